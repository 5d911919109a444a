//! `omicsdb user ...`: the users `omicsdb serve` lets in, with their roles.
//!
//! Passwords come from `--password-file FILE` (its first line), the
//! `OMICSDB_PASSWORD` environment variable, or a prompt (twice, without echo,
//! on a terminal; one line read from stdin otherwise); never from a
//! command-line argument, which other users of the machine can see. Only a
//! SCRAM-SHA-256 verifier is stored.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use omicsdb::Database;
use omicsdb_server::pg::auth::scram_verifier;
use omicsdb_storage::users::{self, Role};

/// Environment variable read for the password when no file is given.
pub const PASSWORD_ENV: &str = "OMICSDB_PASSWORD";

/// A role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Read-only queries (SELECT, EXPLAIN, SHOW, SET of session settings, cursors).
    Reader,
    /// Everything, including statements that write or read server files.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Reader => Role::Reader,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// User commands. The server loads users when it starts: stop it (it holds
/// the database lock) before changing them, then start it again.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from --password-file, else from
    /// $OMICSDB_PASSWORD, else prompted for (never given as an argument).
    Add {
        /// User name (letters, digits, '_', '-', '.').
        name: String,
        /// What the user may run.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of this file.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users and their roles.
    List,
    /// Remove a user.
    Drop {
        /// User name.
        name: String,
    },
    /// Change a user's role.
    SetRole {
        /// User name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Change a user's password (read like `user add`'s).
    SetPassword {
        /// User name.
        name: String,
        /// Read the password from the first line of this file.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

/// Runs a user command.
pub fn run(db: &Database, cmd: UserCommand) -> Result<()> {
    let store = db.store();
    match cmd {
        UserCommand::Add { name, role, password_file } => {
            users::check_user_name(&name)?;
            if users::user(store, &name)?.is_some() {
                bail!("user '{name}' already exists (use `omicsdb user set-role` or `omicsdb user set-password`)");
            }
            let password = read_password(password_file.as_deref())?;
            let record = users::add_user(store, &name, role.into(), &scram_verifier(&password))?;
            println!("added user {} with role {} (SCRAM-SHA-256)", record.name, record.role);
        }
        UserCommand::List => {
            let list = users::list_users(store)?;
            if list.is_empty() {
                println!(
                    "no users: `omicsdb serve` starts only with --trust (no password, every loopback \
                     client admin); add one with `omicsdb user add NAME --role reader|admin`"
                );
            }
            let width = list.iter().map(|u| u.name.len()).max().unwrap_or(0).max(4);
            if !list.is_empty() {
                println!("{:<width$}  role", "name");
            }
            for u in &list {
                println!("{:<width$}  {}", u.name, u.role);
            }
        }
        UserCommand::Drop { name } => {
            users::drop_user(store, &name)?;
            println!("dropped user {name}");
        }
        UserCommand::SetRole { name, role } => {
            let record = users::set_role(store, &name, role.into())?;
            println!("user {} now has role {}", record.name, record.role);
        }
        UserCommand::SetPassword { name, password_file } => {
            users::require_user(store, &name)?;
            let password = read_password(password_file.as_deref())?;
            users::set_verifier(store, &name, &scram_verifier(&password))?;
            println!("changed the password of user {name}");
        }
    }
    Ok(())
}

/// The password from `file`, `$OMICSDB_PASSWORD` or a prompt.
fn read_password(file: Option<&Path>) -> Result<String> {
    let password = if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read password file {}", path.display()))?;
        text.lines().next().unwrap_or("").to_owned()
    } else if let Ok(password) = std::env::var(PASSWORD_ENV) {
        password
    } else if std::io::stdin().is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let again = prompt_hidden("Password again: ")?;
        if first != again {
            bail!("the passwords do not match");
        }
        first
    } else {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        read_line()?
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

fn read_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Sets the terminal's echo with `stty` (on the inherited stdin).
fn stty(arg: &str) -> bool {
    Command::new("stty")
        .arg(arg)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Prompts on stderr and reads a line with the terminal's echo off.
fn prompt_hidden(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let hidden = stty("-echo");
    let line = read_line();
    if hidden {
        stty("echo");
        eprintln!();
    } else {
        eprintln!("(warning: could not turn off the terminal's echo)");
    }
    line
}
