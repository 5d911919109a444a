//! pg_catalog, information_schema and the functions clients call at connect.
//!
//! datafusion-pg-catalog provides pg_catalog tables (pg_class, pg_namespace,
//! pg_attribute, pg_type, pg_proc, ...) computed from the live DataFusion
//! catalog, plus functions such as `current_schema()`, `pg_get_userbyid()`,
//! `has_table_privilege()`; psql's `\d` family runs on them. We add a
//! PostgreSQL-shaped `version()`: DataFusion's returns "Apache DataFusion
//! ...", which SQLAlchemy's dialect cannot parse ("Could not determine
//! version from string").

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use super::error::ServerError;

/// PostgreSQL major.minor the server reports (`server_version`, `version()`).
/// psql 15+ and drivers pick their catalog queries from it.
pub const PG_COMPAT_VERSION: &str = "16.6";

/// The `version()` string: PostgreSQL-shaped so drivers can parse it.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_COMPAT_VERSION} (omicsdb {} on Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

/// Installs pg_catalog, information_schema and `version()` into `ctx`.
///
/// Turns on `information_schema` in the context's configuration (it is what
/// `information_schema.tables`/`columns` queries from BI tools read).
pub fn install(ctx: &SessionContext) -> Result<(), ServerError> {
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().catalog.information_schema = true;
    }
    let catalog = ctx.state().config().options().catalog.default_catalog.clone();
    setup_pg_catalog(ctx, &catalog, Arc::new(AuthManager::default()))
        .map_err(|e| ServerError::Catalog(e.to_string()))?;

    let version = version_string();
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version.clone()))))
        }),
    ));
    // psql's \df filters functions with pg_function_is_visible(p.oid); every
    // function in the catalog is on the search path here.
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let visible: datafusion::arrow::array::BooleanArray =
                (0..arrays[0].len()).map(|i| (!arrays[0].is_null(i)).then_some(true)).collect();
            Ok(ColumnarValue::Array(Arc::new(visible)))
        }),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    #[tokio::test]
    async fn catalog_tables_and_version_answer() {
        let ctx = SessionContext::new();
        install(&ctx).unwrap();
        let batches = ctx.sql("SELECT version()").await.unwrap().collect().await.unwrap();
        let v = batches[0].column(0).as_string::<i32>().value(0).to_owned();
        assert!(v.starts_with("PostgreSQL 16.6 (omicsdb"), "{v}");
        let n = ctx
            .sql("SELECT count(*) FROM pg_catalog.pg_namespace")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(n.len(), 1);
        ctx.sql("SELECT * FROM information_schema.tables").await.unwrap();
    }
}
