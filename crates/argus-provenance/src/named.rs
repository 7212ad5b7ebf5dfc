//! [`named_enum!`]: a fieldless enum with one text form per value, and the
//! error that names a text which is none of them.

/// Declares the enum (with the caller's attributes and derives) and, from
/// one list of `Variant = "text"`, its `as_str`, `Display` and `FromStr`,
/// and the error type `FromStr` answers with: a `String` newtype whose
/// `Display` is the given format with the refused text in place of `{}`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
        $(#[$umeta:meta])*
        pub struct $unknown:ident($message:literal);
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $(#[$umeta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $unknown(pub String);

        impl ::std::fmt::Display for $unknown {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, $message, self.0)
            }
        }

        impl ::std::error::Error for $unknown {}

        impl ::std::str::FromStr for $name {
            type Err = $unknown;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($unknown(s.to_owned())),
                }
            }
        }
    };
}

pub(crate) use named_enum;
