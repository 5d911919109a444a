//! A string-column builder fed with bytes, for functions whose output is
//! computed byte by byte (reverse complement, fetched sequence).

use arrow::array::StringArray;
use arrow::array::builder::NullBufferBuilder;
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::common::{exec_err, Result};

/// Builds a `StringArray` from byte slices without a `String` per row.
pub(crate) struct BytesColumn {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl BytesColumn {
    /// A builder for `rows` values totalling about `bytes` bytes.
    pub(crate) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self { values: Vec::with_capacity(bytes), offsets, nulls: NullBufferBuilder::new(rows) }
    }

    /// The value buffer, to append the bytes of the current row to.
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.values
    }

    /// Ends the current row (the bytes pushed since the previous row).
    pub(crate) fn end_value(&mut self, function: &str) -> Result<()> {
        let Ok(end) = i32::try_from(self.values.len()) else {
            return exec_err!("{function}: result column exceeds 2 GiB in one batch");
        };
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    /// Appends a NULL row.
    pub(crate) fn append_null(&mut self) {
        let end = *self.offsets.last().unwrap_or(&0);
        self.offsets.push(end);
        self.nulls.append_null();
    }

    /// Finishes the column; fails if a value is not valid UTF-8.
    pub(crate) fn finish(mut self, function: &str) -> Result<StringArray> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        match StringArray::try_new(offsets, self.values.into(), self.nulls.finish()) {
            Ok(a) => Ok(a),
            Err(e) => exec_err!("{function}: result is not valid UTF-8: {e}"),
        }
    }
}
