//! Deserializers that take a value either natively (`port = 8080`) or as a string
//! (`port = "${PORT:-8080}"`), so that environment interpolation works for numbers and booleans;
//! and optional strings an empty interpolation (`"${VAR:-}"`) leaves unset.

use std::fmt::Display;
use std::str::FromStr;

use serde::de::{Deserializer, Error};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Flex<T> {
    Native(T),
    Text(String),
}

fn flex<'de, D, T>(deserializer: D, what: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + FromStr,
    T::Err: Display,
{
    match Flex::<T>::deserialize(deserializer) {
        Ok(Flex::Native(value)) => Ok(value),
        Ok(Flex::Text(text)) => text
            .trim()
            .parse()
            .map_err(|e| D::Error::custom(format!("expected {what}, got `{text}` ({e})"))),
        Err(_) => Err(D::Error::custom(format!("expected {what}"))),
    }
}

pub(super) fn u16<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    flex(d, "a port number (0-65535)")
}

pub(super) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    flex(d, "a non-negative integer")
}

pub(super) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    flex(d, "a non-negative integer")
}

pub(super) fn usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    flex(d, "a non-negative integer")
}

pub(super) fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flex(d, "true or false")
}

pub(super) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    bool(d).map(Some)
}

pub(super) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    flex(d, "a number").map(Some)
}

/// A string where empty (or only spaces) means unset, so `"${VAR:-}"` can leave a key out.
pub(super) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}
