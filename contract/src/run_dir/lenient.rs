//! Reading leniently: what an older or leaner file writes as `null` (or leaves out) reads as the
//! empty value.

use serde::Deserialize;

/// Reads `null` as the type's default (the format writes `null` for "none" in places where an
/// empty value would do as well, and a leaner writer may write `null` for a whole object).
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
