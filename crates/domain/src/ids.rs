//! Identifier newtypes, one per kind of record, all UUID v7.
//!
//! UUID v7 starts with a millisecond timestamp, so ids sort roughly by
//! creation time: indexes stay append-mostly and ids double as stable
//! keyset-pagination keys. The text form is the canonical lower-case
//! hyphenated one (`0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162`); [`parse`]-ing
//! accepts only that shape (upper-case hex allowed) and only version 7, so
//! one id has exactly one spelling in URLs and in the database.
//!
//! [`parse`]: CustomerId::parse

use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("invalid {kind} id {input:?}: expected a hyphenated UUID")]
    Malformed { kind: &'static str, input: String },
    #[error("invalid {kind} id {input:?}: expected a version 7 UUID")]
    NotV7 { kind: &'static str, input: String },
}

/// Checks shape and version; shared by every id type.
pub fn parse_uuid_v7(kind: &'static str, input: &str) -> Result<Uuid, IdError> {
    let malformed = || IdError::Malformed {
        kind,
        input: input.to_owned(),
    };
    if input.len() != 36 {
        return Err(malformed());
    }
    let uuid = Uuid::try_parse(input).map_err(|_| malformed())?;
    if uuid.get_version_num() != 7 {
        return Err(IdError::NotV7 {
            kind,
            input: input.to_owned(),
        });
    }
    Ok(uuid)
}

/// Defines an id newtype over a UUID v7 with `new`, `parse`, `from_uuid`,
/// `as_uuid`, `Display`, `FromStr` and string serde.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(::uuid::Uuid);

        impl $name {
            /// What the id names, used in error messages (`"customer"`).
            pub const KIND: &'static str = $kind;

            /// A fresh id. Reads the clock and randomness: call it at the
            /// edge (a handler creating a record), never inside a rule.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            /// Parses the canonical hyphenated text form of a UUID v7.
            pub fn parse(input: &str) -> Result<Self, $crate::ids::IdError> {
                $crate::ids::parse_uuid_v7($kind, input).map(Self)
            }

            /// Wraps a UUID, which must be version 7.
            pub fn from_uuid(uuid: ::uuid::Uuid) -> Result<Self, $crate::ids::IdError> {
                if uuid.get_version_num() == 7 {
                    Ok(Self(uuid))
                } else {
                    Err($crate::ids::IdError::NotV7 {
                        kind: $kind,
                        input: uuid.to_string(),
                    })
                }
            }

            pub fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ids::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

define_id!(CustomerId, "customer");
define_id!(CustomerGroupId, "customer group");
define_id!(ProductId, "product");
define_id!(ItemGroupId, "item group");
define_id!(TerritoryId, "territory");
define_id!(ChannelId, "channel");
define_id!(ApiKeyId, "api key");
define_id!(
    /// The principal an API key belongs to (a person or an integration).
    PrincipalId,
    "principal"
);
define_id!(PriceListId, "price list");
define_id!(WarehouseId, "warehouse");
define_id!(QuotationId, "quotation");
define_id!(OrderId, "order");
define_id!(LineId, "line");
define_id!(SalesPersonId, "sales person");
define_id!(ApprovalPolicyId, "approval policy");
define_id!(ApprovalRequestId, "approval request");
define_id!(DelegationId, "delegation");
define_id!(ApprovalManagerId, "approval manager");
define_id!(ReservationId, "reservation");
define_id!(ReceiptId, "receipt");
define_id!(StockAdjustmentId, "stock adjustment");
define_id!(EventId, "event");
define_id!(ImportId, "import");

define_id!(WebhookSubscriptionId, "webhook subscription");
define_id!(WebhookDeliveryId, "webhook delivery");
define_id!(AutomationId, "automation");
define_id!(InboundEventId, "inbound event");
define_id!(ShopConnectionId, "shop connection");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_v7_and_round_trip_through_text() {
        let id = CustomerId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(CustomerId::parse(&text).unwrap(), id);
        assert_eq!(text.parse::<CustomerId>().unwrap(), id);
    }

    #[test]
    fn upper_case_hex_is_accepted_and_printed_lower_case() {
        let id = OrderId::new();
        let upper = id.to_string().to_uppercase();
        assert_eq!(OrderId::parse(&upper).unwrap().to_string(), id.to_string());
    }

    #[test]
    fn other_uuid_spellings_are_rejected() {
        let id = ProductId::new();
        let simple = id.as_uuid().simple().to_string();
        let braced = format!("{{{id}}}");
        for bad in [
            simple.as_str(),
            braced.as_str(),
            "",
            "not-a-uuid",
            "0190f5c2-7b3a-7c3e-9a1f-1d2e3f40516g",
        ] {
            assert!(
                matches!(
                    ProductId::parse(bad),
                    Err(IdError::Malformed {
                        kind: "product",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_v4_uuid_is_not_an_id() {
        let v4 = "6f1c1a9e-3b2d-4c5e-8f70-1a2b3c4d5e6f";
        assert_eq!(
            QuotationId::parse(v4),
            Err(IdError::NotV7 {
                kind: "quotation",
                input: v4.into()
            })
        );
        assert!(QuotationId::from_uuid(Uuid::nil()).is_err());
    }

    #[test]
    fn ids_serialize_as_strings() {
        let id = TerritoryId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<TerritoryId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<TerritoryId>("42").is_err());
        assert!(serde_json::from_str::<TerritoryId>("\"x\"").is_err());
    }

    #[test]
    fn ids_created_later_sort_later() {
        let a = ChannelId::new();
        let b = ChannelId::new();
        assert!(a < b);
    }
}
