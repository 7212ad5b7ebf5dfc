//! Reading typed configuration from environment variables, for the
//! `from_environment()` constructors of each binary's config.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

/// Declares a config struct whose every field is read from one environment
/// variable, each field written once with its default and its variable:
/// `pub field: Type = default => reader("VARIABLE"),` where `reader` is
/// [`parse_var`] or [`flag`]. Gives `Default` (the defaults) and
/// `from_environment()` (each variable read over its default).
#[macro_export]
macro_rules! env_settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident: $ty:ty = $default:expr => $read:ident($var:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)+
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)+ }
            }
        }

        impl $name {
            pub fn from_environment() -> Result<Self, $crate::env::ConfigError> {
                let d = Self::default();
                Ok(Self { $($field: $crate::env::$read($var, d.$field)?,)+ })
            }
        }
    };
}

/// The variable's value, or `default` when it is unset or empty.
pub fn var_or(name: &'static str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// The variable parsed as `T`, or `default` when unset or empty.
pub fn parse_var<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    parse_value(name, std::env::var(name).ok().as_deref(), default)
}

/// `raw`, the value of variable `name` from wherever the caller read it,
/// parsed as `T`, or `default` when it is `None` or empty.
pub fn parse_value<T: FromStr>(name: &'static str, raw: Option<&str>, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match raw.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError { name, reason: format!("`{raw}`: {e}") }),
    }
}

/// A boolean variable: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.
pub fn flag(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    flag_value(name, std::env::var(name).ok().as_deref(), default)
}

/// [`flag`] of a value the caller read.
pub fn flag_value(name: &'static str, raw: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match raw.filter(|v| !v.is_empty()).map(str::to_ascii_lowercase) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(ConfigError { name, reason: format!("`{v}` is not a boolean") }),
    }
}

/// The entries of a comma-separated value, trimmed, empty ones skipped,
/// each read by `parse`; the first entry `parse` refuses refuses the list.
pub fn comma_list<T>(raw: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse).collect()
}
