//! Errors to SQLSTATE codes.
//!
//! datafusion-postgres wraps every engine error as `PgWireError::ApiError`,
//! which pgwire reports as `XX000` (internal error). Clients branch on the
//! SQLSTATE (psycopg raises `UndefinedTable` for 42P01, ...), so
//! [`SqlStateErrorHandler`] rewrites those errors, just before they are sent,
//! into the code PostgreSQL would use. Errors pgwire already classifies
//! (protocol violations 08P01, auth 28P01, bad parameters 22P02, ...) keep
//! their codes.

use std::error::Error as StdError;

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError};

/// SQLSTATE codes the server sends (PostgreSQL appendix A names).
pub mod codes {
    /// syntax_error
    pub const SYNTAX_ERROR: &str = "42601";
    /// undefined_table
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// undefined_column
    pub const UNDEFINED_COLUMN: &str = "42703";
    /// ambiguous_column
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    /// undefined_function
    pub const UNDEFINED_FUNCTION: &str = "42883";
    /// syntax_error_or_access_rule_violation (other planning errors)
    pub const PLANNING_ERROR: &str = "42000";
    /// invalid_text_representation
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    /// division_by_zero
    pub const DIVISION_BY_ZERO: &str = "22012";
    /// numeric_value_out_of_range
    pub const OUT_OF_RANGE: &str = "22003";
    /// invalid_parameter_value
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    /// feature_not_supported
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    /// query_canceled
    pub const QUERY_CANCELED: &str = "57014";
    /// invalid_password
    pub const INVALID_PASSWORD: &str = "28P01";
    /// invalid_authorization_specification
    pub const INVALID_AUTHORIZATION: &str = "28000";
    /// too_many_connections
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// out_of_memory
    pub const OUT_OF_MEMORY: &str = "53200";
    /// io_error
    pub const IO_ERROR: &str = "58030";
    /// protocol_violation
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    /// An object (an embedding index) that does not exist.
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// Stored data that does not match its catalog entry.
    pub const DATA_CORRUPTED: &str = "XX001";
    /// internal_error
    pub const INTERNAL_ERROR: &str = "XX000";
}

/// Rewrites engine errors into PostgreSQL SQLSTATEs before they are sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqlStateErrorHandler;

impl ErrorHandler for SqlStateErrorHandler {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let Some(info) = reclassify(error) {
            *error = PgWireError::UserError(Box::new(info));
        }
    }
}

/// The `ErrorInfo` to send instead of `error`, or `None` to keep pgwire's.
pub fn reclassify(error: &PgWireError) -> Option<ErrorInfo> {
    match error {
        PgWireError::ApiError(inner) => {
            let code = code_of(inner.as_ref());
            Some(ErrorInfo::new("ERROR".to_owned(), code.to_owned(), inner.to_string()))
        }
        // arrow-pg reports types it cannot encode as XX000.
        PgWireError::UserError(info)
            if info.code == codes::INTERNAL_ERROR && info.message.starts_with("Unsupported") =>
        {
            Some(ErrorInfo::new(
                info.severity.clone(),
                codes::FEATURE_NOT_SUPPORTED.to_owned(),
                info.message.clone(),
            ))
        }
        _ => None,
    }
}

/// SQLSTATE for any error an engine or parser returned.
pub fn code_of(error: &(dyn StdError + 'static)) -> &'static str {
    if error.downcast_ref::<ParserError>().is_some() {
        return codes::SYNTAX_ERROR;
    }
    if error.downcast_ref::<super::cancel::Interrupt>().is_some() {
        return codes::QUERY_CANCELED;
    }
    if let Some(df) = error.downcast_ref::<DataFusionError>() {
        return datafusion_code(df);
    }
    if let Some(arrow) = error.downcast_ref::<ArrowError>() {
        return arrow_code(arrow);
    }
    if let Some(udf) = error.downcast_ref::<omicsdb_udf::UdfError>() {
        return udf_code(udf);
    }
    if let Some(ix) = error.downcast_ref::<omicsdb::embedding_index::IndexError>() {
        return index_code(ix);
    }
    if let Some(source) = error.source() {
        return code_of(source);
    }
    message_code(&error.to_string()).unwrap_or(codes::INTERNAL_ERROR)
}

fn datafusion_code(error: &DataFusionError) -> &'static str {
    match error {
        DataFusionError::Context(_, inner) => datafusion_code(inner),
        DataFusionError::Diagnostic(_, inner) => datafusion_code(inner),
        DataFusionError::Shared(inner) => datafusion_code(inner),
        DataFusionError::Collection(errors) => {
            errors.first().map(datafusion_code).unwrap_or(codes::INTERNAL_ERROR)
        }
        DataFusionError::SQL(..) => codes::SYNTAX_ERROR,
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            SchemaError::FieldNotFound { .. } => codes::UNDEFINED_COLUMN,
            SchemaError::AmbiguousReference { .. } => codes::AMBIGUOUS_COLUMN,
            _ => codes::PLANNING_ERROR,
        },
        DataFusionError::Plan(msg) => message_code(msg).unwrap_or(codes::PLANNING_ERROR),
        DataFusionError::NotImplemented(_) => codes::FEATURE_NOT_SUPPORTED,
        DataFusionError::ArrowError(e, _) => arrow_code(e),
        DataFusionError::Execution(msg) => message_code(msg).unwrap_or(codes::INTERNAL_ERROR),
        DataFusionError::ResourcesExhausted(_) => codes::OUT_OF_MEMORY,
        DataFusionError::Configuration(_) => codes::INVALID_PARAMETER_VALUE,
        DataFusionError::IoError(_)
        | DataFusionError::ObjectStore(_)
        | DataFusionError::ParquetError(_) => codes::IO_ERROR,
        DataFusionError::External(e) => code_of(e.as_ref()),
        _ => message_code(&error.to_string()).unwrap_or(codes::INTERNAL_ERROR),
    }
}

/// The model functions' errors: what the caller passed is 22023 (a model argument, a
/// pooling, a sequence too long or not DNA, a variant that does not fit the genome), a stopped statement 57014.
fn udf_code(error: &omicsdb_udf::UdfError) -> &'static str {
    use omicsdb_udf::UdfError as U;
    match error {
        U::Argument { .. }
        | U::NoDefaultModel { .. }
        | U::TooLong { .. }
        | U::BadSequence { .. }
        | U::Variant { .. } => {
            codes::INVALID_PARAMETER_VALUE
        }
        U::Interrupted { .. } => codes::QUERY_CANCELED,
        U::Storage(e) => message_code(&e.to_string()).unwrap_or(codes::INVALID_PARAMETER_VALUE),
        U::Model { .. } | U::Cache(_) => codes::INTERNAL_ERROR,
    }
}

/// The embedding indexes' errors: a bad argument (vector width, k, filter, another
/// model) is 22023, an unknown index 42704, a damaged index XX001.
fn index_code(error: &omicsdb::embedding_index::IndexError) -> &'static str {
    use omicsdb::embedding_index::IndexError as I;
    match error {
        I::Argument { .. } => codes::INVALID_PARAMETER_VALUE,
        I::Unknown { .. } => codes::UNDEFINED_OBJECT,
        I::Corrupt { .. } => codes::DATA_CORRUPTED,
        I::DataFusion(e) => datafusion_code(e),
        I::Arrow(e) => arrow_code(e),
        I::Storage(e) => message_code(&e.to_string()).unwrap_or(codes::INVALID_PARAMETER_VALUE),
        I::Io { .. } => codes::IO_ERROR,
        I::Vector(omicsdb::embedding_index::VectorError::Argument { .. }) => codes::INVALID_PARAMETER_VALUE,
        I::Vector(_) | I::Parquet(_) | I::Materialize(_) => codes::INTERNAL_ERROR,
    }
}

fn arrow_code(error: &ArrowError) -> &'static str {
    match error {
        ArrowError::CastError(_) | ArrowError::ParseError(_) => codes::INVALID_TEXT_REPRESENTATION,
        ArrowError::DivideByZero => codes::DIVISION_BY_ZERO,
        ArrowError::ArithmeticOverflow(_) => codes::OUT_OF_RANGE,
        ArrowError::InvalidArgumentError(_) => codes::INVALID_PARAMETER_VALUE,
        ArrowError::NotYetImplemented(_) => codes::FEATURE_NOT_SUPPORTED,
        ArrowError::ExternalError(e) => code_of(e.as_ref()),
        _ => codes::INTERNAL_ERROR,
    }
}

/// Classifies by message where DataFusion only gives a string
/// (`Plan`/`Execution` errors).
fn message_code(msg: &str) -> Option<&'static str> {
    let m = msg.to_ascii_lowercase();
    if (m.contains("table '") || m.contains("table \"") || m.contains("relation"))
        && (m.contains("not found") || m.contains("does not exist"))
    {
        return Some(codes::UNDEFINED_TABLE);
    }
    if m.contains("invalid function")
        || m.contains("no function matches")
        || (m.contains("function") && (m.contains("not found") || m.contains("does not exist")))
    {
        return Some(codes::UNDEFINED_FUNCTION);
    }
    if m.contains("cannot cast") || m.contains("invalid input syntax") || m.contains("cast error") {
        return Some(codes::INVALID_TEXT_REPRESENTATION);
    }
    if m.contains("divide by zero") || m.contains("division by zero") {
        return Some(codes::DIVISION_BY_ZERO);
    }
    if m.contains("sql error") || m.contains("parsererror") || m.contains("expected:") {
        return Some(codes::SYNTAX_ERROR);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(e: impl StdError + Send + Sync + 'static) -> PgWireError {
        PgWireError::ApiError(Box::new(e))
    }

    fn code(e: PgWireError) -> String {
        reclassify(&e).map(|i| i.code).unwrap_or_else(|| ErrorInfo::from(e).code)
    }

    #[test]
    fn engine_errors_get_postgres_codes() {
        let cases: Vec<(PgWireError, &str)> = vec![
            (api(ParserError::ParserError("Expected: an expression".into())), "42601"),
            (
                api(DataFusionError::Plan("table 'datafusion.public.nosuch' not found".into())),
                "42P01",
            ),
            (api(DataFusionError::Plan("Invalid function 'nosuchfn'".into())), "42883"),
            (
                api(DataFusionError::ArrowError(
                    Box::new(ArrowError::CastError("Cannot cast string 'abc' to value of Int32 type".into())),
                    None,
                )),
                "22P02",
            ),
            (
                api(DataFusionError::Context(
                    "while planning".into(),
                    Box::new(DataFusionError::NotImplemented("LATERAL".into())),
                )),
                "0A000",
            ),
            (api(DataFusionError::ResourcesExhausted("memory".into())), "53200"),
            (api(DataFusionError::Internal("bug".into())), "XX000"),
        ];
        for (err, want) in cases {
            let shown = err.to_string();
            assert_eq!(code(err), want, "{shown}");
        }
    }

    #[test]
    fn pgwire_codes_are_kept() {
        assert_eq!(code(PgWireError::InvalidPassword("omics".into())), "28P01");
        assert_eq!(code(PgWireError::QueryCanceled), "57014");
        assert_eq!(code(PgWireError::MessageTooLarge(10, 20)), "08P01");
    }

    #[test]
    fn handler_rewrites_in_place() {
        let mut err = api(DataFusionError::Plan("table 'x' not found".into()));
        let info: ErrorInfo = match reclassify(&err) {
            Some(info) => info,
            None => panic!("must reclassify"),
        };
        err = PgWireError::UserError(Box::new(info));
        assert_eq!(ErrorInfo::from(err).code, "42P01");
    }
}
