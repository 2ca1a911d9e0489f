//! What summary.csv and timeseries.csv share: rows are written with `csv::Writer::serialize`
//! from their row type, whose field names are the columns (so the header is the type's, even
//! for a file with no row), and a number is written as it reads (`8`, `0.021`: Rust's
//! shortest form, never `8.0`).

use std::path::Path;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Serialize, Serializer};

/// The columns of row type `T`: its field names, in order (what `serialize` writes as the
/// header).
pub fn columns<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = FieldNames(None);
    // Only a struct's field names are asked for; the deserializer then stops.
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

/// Writes `rows` as CSV: the header (the columns of `T`), then one record per row.
pub fn write<T, W>(out: W, rows: &[T]) -> Result<(), csv::Error>
where
    T: Serialize + DeserializeOwned,
    W: std::io::Write,
{
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(columns::<T>())?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

/// [`write()`] into the file `path`.
pub fn write_file<T>(path: &Path, rows: &[T]) -> Result<(), csv::Error>
where
    T: Serialize + DeserializeOwned,
{
    write(std::fs::File::create(path)?, rows)
}

/// Serializes a number in its shortest form (`8`, not `8.0`), as the format always wrote it.
pub(crate) fn num<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(x)
}

/// [`num`], or an empty cell for `None`.
pub(crate) fn opt_num<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.collect_str(x),
        None => s.serialize_none(),
    }
}

/// A deserializer that records the field names a struct asks for, and nothing else.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize)]
    struct Row {
        name: String,
        #[serde(serialize_with = "num")]
        x: f64,
        #[serde(serialize_with = "opt_num")]
        y: Option<f64>,
        n: Option<u64>,
    }

    fn text(rows: &[Row]) -> String {
        let mut out = Vec::new();
        write(&mut out, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_header_is_the_type_s_even_without_rows() {
        assert_eq!(columns::<Row>(), ["name", "x", "y", "n"]);
        assert_eq!(text(&[]), "name,x,y,n\n");
    }

    #[test]
    fn numbers_are_written_in_their_shortest_form_and_unknown_is_empty() {
        let rows = [
            Row {
                name: "a,b".into(),
                x: 8.0,
                y: Some(0.021),
                n: Some(7),
            },
            Row {
                name: "c".into(),
                x: 498376.0,
                y: None,
                n: None,
            },
        ];
        assert_eq!(text(&rows), "name,x,y,n\n\"a,b\",8,0.021,7\nc,498376,,\n");
        let back: Vec<Row> = csv::Reader::from_reader(text(&rows).as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!((back[0].x, back[0].y, back[1].y), (8.0, Some(0.021), None));
    }
}
