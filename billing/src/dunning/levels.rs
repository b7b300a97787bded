//! Reminder levels as configuration: after how many days overdue which kind of reminder goes
//! out, with an optional fee, the minimum debt worth a reminder and the minimum interest worth
//! a note. Serde/TOML-friendly; the defaults follow common Polish practice.

use crate::store_error::StoreError;
use ewoda_common::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a reminder level is called on paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelKind {
    /// Wezwanie do zapłaty.
    Reminder,
    /// Ostateczne (przedsądowe) wezwanie do zapłaty.
    FinalReminder,
}

impl LevelKind {
    /// The document title in Polish.
    pub fn title(self) -> &'static str {
        match self {
            LevelKind::Reminder => "Wezwanie do zapłaty",
            LevelKind::FinalReminder => "Ostateczne przedsądowe wezwanie do zapłaty",
        }
    }
}

/// One reminder level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningLevel {
    /// An invoice reaches this level when more than this many days have passed since its due day.
    pub days_overdue: u32,
    /// Reminder or final reminder.
    pub kind: LevelKind,
    /// A fee printed on the reminder (PLN; 0 by default).
    #[serde(default)]
    pub fee: Decimal,
}

/// Dunning configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningConfig {
    /// Levels, ascending by `days_overdue`; level numbers are 1-based positions.
    pub levels: Vec<DunningLevel>,
    /// Overdue debt below this (PLN) gets no reminder.
    #[serde(default = "default_min_amount")]
    pub min_amount: Decimal,
    /// An invoice moves up a level only this many days after its previous reminder.
    #[serde(default = "default_days_between")]
    pub min_days_between: u32,
    /// Days the debtor is given to pay a reminder or a note.
    #[serde(default = "default_payment_days")]
    pub payment_days: u32,
    /// Interest + compensation below this (PLN) gets no interest note.
    #[serde(default = "default_min_interest")]
    pub min_interest: Decimal,
}

fn default_min_amount() -> Decimal {
    Decimal::new(2000, 2)
}

fn default_days_between() -> u32 {
    7
}

fn default_payment_days() -> u32 {
    7
}

fn default_min_interest() -> Decimal {
    Decimal::new(1000, 2)
}

impl Default for DunningConfig {
    /// Reminder 7 days after the due day, final reminder after 30; no fees; 20 zł minimum
    /// debt; 7 days to pay; notes from 10 zł of interest.
    fn default() -> Self {
        DunningConfig {
            levels: vec![
                DunningLevel {
                    days_overdue: 7,
                    kind: LevelKind::Reminder,
                    fee: Decimal::ZERO,
                },
                DunningLevel {
                    days_overdue: 30,
                    kind: LevelKind::FinalReminder,
                    fee: Decimal::ZERO,
                },
            ],
            min_amount: default_min_amount(),
            min_days_between: default_days_between(),
            payment_days: default_payment_days(),
            min_interest: default_min_interest(),
        }
    }
}

impl DunningConfig {
    /// Parses and checks a TOML configuration (`[[levels]]` tables and the scalar settings).
    pub fn from_toml(text: &str) -> Result<Self, StoreError> {
        let cfg: DunningConfig =
            toml::from_str(text).map_err(|e| StoreError::invalid("dunning config", e.message()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the levels: at least one, strictly ascending days, fees ≥ 0 to the grosz, and
    /// non-negative minimums.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.levels.is_empty() {
            return Err(StoreError::invalid(
                "levels",
                "at least one level is needed",
            ));
        }
        if self.levels.len() > usize::from(i16::MAX as u16) {
            return Err(StoreError::invalid("levels", "too many levels"));
        }
        for (i, l) in self.levels.iter().enumerate() {
            if l.fee.is_sign_negative() || Money::exact(l.fee).is_none() {
                return Err(StoreError::invalid(
                    format!("levels[{i}].fee"),
                    format!("{} is not an amount ≥ 0 in grosze", l.fee),
                ));
            }
            if let Some(prev) = i.checked_sub(1).and_then(|p| self.levels.get(p)) {
                if l.days_overdue <= prev.days_overdue {
                    return Err(StoreError::invalid(
                        format!("levels[{i}].days_overdue"),
                        format!(
                            "{} does not exceed the previous level's {}",
                            l.days_overdue, prev.days_overdue
                        ),
                    ));
                }
            }
        }
        for (field, v) in [
            ("min_amount", self.min_amount),
            ("min_interest", self.min_interest),
        ] {
            if v.is_sign_negative() && !v.is_zero() {
                return Err(StoreError::invalid(field, format!("{v} is negative")));
            }
        }
        Ok(())
    }

    /// The level (1-based) an invoice `days_late` days past due qualifies for; 0 for none.
    pub fn qualified_level(&self, days_late: i64) -> u16 {
        let n = self
            .levels
            .iter()
            .take_while(|l| days_late > i64::from(l.days_overdue))
            .count();
        u16::try_from(n).unwrap_or(u16::MAX)
    }

    /// Level `n` (1-based).
    pub fn level(&self, n: u16) -> Option<&DunningLevel> {
        usize::from(n)
            .checked_sub(1)
            .and_then(|i| self.levels.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn toml_round_trip_and_defaults() {
        let cfg = DunningConfig::from_toml(
            "min_amount = \"50.00\"\n\
             [[levels]]\ndays_overdue = 14\nkind = \"reminder\"\n\
             [[levels]]\ndays_overdue = 45\nkind = \"final_reminder\"\nfee = \"11.50\"\n",
        )
        .unwrap();
        assert_eq!(cfg.levels.len(), 2);
        assert_eq!(cfg.levels[1].fee, dec!(11.50));
        assert_eq!(cfg.levels[1].kind, LevelKind::FinalReminder);
        assert_eq!(cfg.min_amount, dec!(50.00));
        assert_eq!(cfg.min_days_between, 7);
        assert_eq!(cfg.payment_days, 7);
        let text = toml::to_string(&DunningConfig::default()).unwrap();
        assert_eq!(
            DunningConfig::from_toml(&text).unwrap(),
            DunningConfig::default()
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let err = DunningConfig::from_toml(
            "[[levels]]\ndays_overdue = 30\nkind = \"reminder\"\n\
             [[levels]]\ndays_overdue = 30\nkind = \"final_reminder\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "levels[1].days_overdue: 30 does not exceed the previous level's 30"
        );
        let err = DunningConfig::from_toml("levels = []").unwrap_err();
        assert_eq!(err.to_string(), "levels: at least one level is needed");
        let err = DunningConfig::from_toml(
            "[[levels]]\ndays_overdue = 3\nkind = \"reminder\"\nfee = \"-1\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "levels[0].fee: -1 is not an amount ≥ 0 in grosze"
        );
        assert!(
            DunningConfig::from_toml("[[levels]]\ndays_overdue = 3\nkind = \"gentle\"\n")
                .unwrap_err()
                .to_string()
                .starts_with("dunning config: ")
        );
    }

    #[test]
    fn qualified_levels() {
        let cfg = DunningConfig::default();
        assert_eq!(cfg.qualified_level(7), 0);
        assert_eq!(cfg.qualified_level(8), 1);
        assert_eq!(cfg.qualified_level(30), 1);
        assert_eq!(cfg.qualified_level(31), 2);
        assert_eq!(cfg.qualified_level(400), 2);
        assert_eq!(cfg.level(2).map(|l| l.kind), Some(LevelKind::FinalReminder));
        assert!(cfg.level(0).is_none());
    }
}
