//! The records the availability component keeps around the engine:
//! warehouses (a channel names them by code), the lifecycle of a
//! reservation hold, and the unit of stored quantities.
//!
//! Quantities are stored as whole **thousandths** of a unit
//! ([`to_milli`]), so the store can re-check scarce stock with integer
//! arithmetic inside SQL (`on_hand - reserved >= ?`) — exact, never a
//! float. A quantity with more than three decimals is refused at the edge.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{code, required_text, string_enum, ValidationError, NAME_MAX};
use crate::ids::WarehouseId;

/// A place stock is held. Invariants: `code` is 1–40 letters, digits,
/// `_ . -`; `name` is 1–200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warehouse {
    id: WarehouseId,
    code: String,
    name: String,
    active: bool,
}

/// What creating (or replacing) a warehouse takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWarehouse {
    pub code: String,
    pub name: String,
}

impl Warehouse {
    pub fn new(id: WarehouseId, new: NewWarehouse) -> Result<Warehouse, ValidationError> {
        Warehouse::from_parts(id, new, true)
    }

    pub fn from_parts(
        id: WarehouseId,
        new: NewWarehouse,
        active: bool,
    ) -> Result<Warehouse, ValidationError> {
        Ok(Warehouse {
            id,
            code: code("code", new.code.trim())?,
            name: required_text("name", &new.name, NAME_MAX)?,
            active,
        })
    }

    pub fn id(&self) -> WarehouseId {
        self.id
    }
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

string_enum! {
    /// Where a reservation hold is in its life. `Held` is the only state
    /// that counts against stock; the other three are final.
    ReservationStatus {
        Held => "held",
        Released => "released",
        Consumed => "consumed",
        Expired => "expired",
    }
}

/// Why a hold cannot move to the state asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reservation that is {from} cannot become {to}")]
pub struct ReservationTransitionError {
    pub from: &'static str,
    pub to: &'static str,
}

impl ReservationStatus {
    /// The next state, from `Held` only.
    pub fn transition(
        self,
        to: ReservationStatus,
    ) -> Result<ReservationStatus, ReservationTransitionError> {
        match (self, to) {
            (
                ReservationStatus::Held,
                ReservationStatus::Released
                | ReservationStatus::Consumed
                | ReservationStatus::Expired,
            ) => Ok(to),
            (from, to) => Err(ReservationTransitionError {
                from: from.as_str(),
                to: to.as_str(),
            }),
        }
    }
}

/// `quantity` in thousandths, or `None` when it has more than three
/// decimals or does not fit.
pub fn to_milli(quantity: Decimal) -> Option<i64> {
    let scaled = quantity.normalize().checked_mul(Decimal::from(1000))?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    i64::try_from(scaled).ok()
}

/// Thousandths back into a quantity.
pub fn from_milli(milli: i64) -> Decimal {
    Decimal::new(milli, 3).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn quantities_round_trip_through_thousandths() {
        assert_eq!(to_milli(dec!(2.5)), Some(2500));
        assert_eq!(to_milli(dec!(-1)), Some(-1000));
        assert_eq!(to_milli(dec!(0.0001)), None);
        assert_eq!(from_milli(2500), dec!(2.5));
        // Beyond what Decimal can scale: refused, never a panic.
        assert_eq!(to_milli(Decimal::MAX), None);
        assert_eq!(to_milli(dec!(678130454649156807385826820.17)), None);
    }

    #[test]
    fn only_a_held_reservation_changes_state() {
        use ReservationStatus::*;
        assert_eq!(Held.transition(Consumed), Ok(Consumed));
        assert!(Released.transition(Consumed).is_err());
        assert!(Held.transition(Held).is_err());
    }

    #[test]
    fn a_warehouse_needs_a_code_and_a_name() {
        let new = |code: &str, name: &str| NewWarehouse {
            code: code.into(),
            name: name.into(),
        };
        assert!(Warehouse::new(WarehouseId::new(), new("CENTRAL", "Central")).is_ok());
        assert_eq!(
            Warehouse::new(WarehouseId::new(), new("a b", "x"))
                .unwrap_err()
                .field,
            "code"
        );
        assert_eq!(
            Warehouse::new(WarehouseId::new(), new("A", " "))
                .unwrap_err()
                .field,
            "name"
        );
    }
}
