//! Arrow → PostgreSQL type mapping, as encoded by arrow-pg.
//!
//! [`pg_type_name`] states, for every Arrow type the engine produces, the
//! Postgres type a client sees in RowDescription (and in `cursor.description`
//! of a driver): arrow-pg's mapping, except that structs, maps and nested
//! lists are sent as `json` (see [`super::json`]). The table in `docs/server.md` is generated from the same
//! cases as the test below, so the two cannot drift. NULLs of any type are
//! sent as SQL NULL (length -1) in both text and binary formats.

use datafusion::arrow::datatypes::DataType;
use pgwire::error::PgWireResult;

/// The Postgres type name a column of `data_type` is announced as.
pub fn pg_type_name(data_type: &DataType) -> PgWireResult<String> {
    if super::json::is_json_type(data_type) {
        return Ok("json".to_owned());
    }
    Ok(datafusion_postgres::arrow_pg::datatypes::into_pg_type(data_type)?
        .name()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Field, Fields, TimeUnit};

    use super::*;

    fn list(item: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", item, true)))
    }

    #[test]
    fn documented_mapping_holds() {
        let cases: Vec<(DataType, &str)> = vec![
            (DataType::Boolean, "bool"),
            (DataType::Int8, "int2"),
            (DataType::Int16, "int2"),
            (DataType::Int32, "int4"),
            (DataType::Int64, "int8"),
            (DataType::UInt8, "int2"),
            (DataType::UInt16, "int4"),
            (DataType::UInt32, "int8"),
            (DataType::UInt64, "numeric"),
            (DataType::Float16, "float4"),
            (DataType::Float32, "float4"),
            (DataType::Float64, "float8"),
            (DataType::Decimal128(10, 2), "numeric"),
            (DataType::Utf8, "text"),
            (DataType::LargeUtf8, "text"),
            (DataType::Utf8View, "text"),
            (DataType::Binary, "bytea"),
            (DataType::LargeBinary, "bytea"),
            (DataType::FixedSizeBinary(16), "bytea"),
            (DataType::Date32, "date"),
            (DataType::Date64, "date"),
            (DataType::Timestamp(TimeUnit::Microsecond, None), "timestamp"),
            (DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), "timestamptz"),
            (DataType::Time64(TimeUnit::Microsecond), "time"),
            (DataType::Duration(TimeUnit::Microsecond), "interval"),
            (list(DataType::Float32), "_float4"),
            (list(DataType::Float64), "_float8"),
            (list(DataType::Int64), "_int8"),
            (list(DataType::Utf8), "_text"),
            (
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 4),
                "_float4",
            ),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "text",
            ),
        ];
        for (arrow, pg) in cases {
            assert_eq!(pg_type_name(&arrow).unwrap(), pg, "{arrow}");
        }
        let record = DataType::Struct(Fields::from(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
        ]));
        assert_eq!(pg_type_name(&record).unwrap(), "json");
        assert_eq!(pg_type_name(&list(record)).unwrap(), "json");
        assert_eq!(pg_type_name(&list(list(DataType::Int64))).unwrap(), "json");
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Utf8, true),
                ])),
                false,
            )),
            false,
        );
        assert_eq!(pg_type_name(&map).unwrap(), "json");
    }

    #[test]
    fn unsupported_types_error_instead_of_panicking() {
        assert!(pg_type_name(&DataType::Decimal256(50, 0)).is_err());
    }
}
