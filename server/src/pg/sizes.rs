//! What psql's `\dt+` calls beyond `\dt`: `pg_size_pretty(bigint)`, rendered as
//! PostgreSQL does, and `pg_table_size`, `pg_relation_size`,
//! `pg_total_relation_size` and `obj_description(oid, catalog)`.
//!
//! The size functions answer NULL: the tables are Parquet files and views the
//! pg_class oids do not lead back to, and PostgreSQL itself answers NULL for an
//! oid it has no relation for. psql then shows an empty Size column rather than
//! failing the whole `\dt+`. `obj_description` answers NULL (no comments are
//! stored).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// The functions [`register`] adds (PostgreSQL's own, so not listed as omicsdb's).
pub const FUNCTIONS: [&str; 5] = ["pg_size_pretty", "pg_table_size", "pg_relation_size", "pg_total_relation_size", "obj_description"];

/// `pg_size_pretty`: bytes below 10 kB as `N bytes`, then kB, MB, GB, TB and
/// PB, each unit used while the value is below 10 240 of it, halves rounded
/// away from zero (PostgreSQL's `pg_size_pretty(bigint)`).
pub fn size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.unsigned_abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes;
    for (i, unit) in UNITS.iter().enumerate() {
        // Each step halves, then rounds the last bit (PostgreSQL's half_rounded).
        let half = size / 512;
        let rounded = if half >= 0 { (half + 1) / 2 } else { (half - 1) / 2 };
        if rounded.unsigned_abs() < 10 * 1024 || i == UNITS.len() - 1 {
            return format!("{rounded} {unit}");
        }
        size /= 1024;
    }
    unreachable!("the last unit returns")
}

/// Registers the functions (see the module docs).
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let sizes = cast(&arrays[0], &DataType::Int64)?;
            let sizes = sizes.as_primitive::<Int64Type>();
            let mut out = StringBuilder::with_capacity(sizes.len(), sizes.len() * 8);
            for i in 0..sizes.len() {
                out.append_option((!sizes.is_null(i)).then(|| size_pretty(sizes.value(i))));
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    ));
    for name in ["pg_table_size", "pg_relation_size", "pg_total_relation_size"] {
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Stable,
            Arc::new(|args: &[ColumnarValue]| {
                let n = ColumnarValue::values_to_arrays(args)?[0].len();
                Ok(ColumnarValue::Array(Arc::new(Int64Array::new_null(n))))
            }),
        ));
    }
    ctx.register_udf(super::describe::null_text_udf("obj_description", vec![DataType::Int64, DataType::Utf8]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    #[test]
    fn sizes_render_as_postgresql_does() {
        // Values from PostgreSQL 16's pg_size_pretty.
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10239), "10239 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(10752), "11 kB");
        assert_eq!(size_pretty(10_485_247), "10239 kB");
        assert_eq!(size_pretty(10_485_248), "10 MB");
        assert_eq!(size_pretty(10_485_760), "10 MB");
        assert_eq!(size_pretty(-10240), "-10 kB");
        assert_eq!(size_pretty(1_000_000_000_000), "931 GB");
    }

    #[tokio::test]
    async fn psql_size_expression_answers() {
        let ctx = SessionContext::new();
        register(&ctx);
        let b = ctx
            .sql("SELECT pg_size_pretty(pg_table_size(1)) AS s, pg_size_pretty(20000) AS t, obj_description(1, 'pg_class') AS d")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(b[0].column(0).is_null(0));
        let t: &StringArray = b[0].column(1).as_string::<i32>();
        assert_eq!(t.value(0), "20 kB");
        assert!(b[0].column(2).is_null(0));
    }
}
