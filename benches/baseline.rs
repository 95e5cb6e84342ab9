//! Hand-written baseline for benchmark workload `city-10` (shared/bench/WORKLOAD.md):
//! the ten policies coded directly in Rust over serde structs, to measure the engine
//! against. It follows the oracle (`shared/bench/oracle.py`) exactly:
//!
//! * a **required** field that is absent or null is unknown (`Option::None` below, read
//!   as [`Tri::Unknown`] by a comparison); an **optional** field that is absent or null
//!   (`education.graduation_date`, `employment.employer_size`, `employment.separation`,
//!   `business`) is a known "has none", and a comparison with it is false; a field
//!   below an absent required record (`hukou`, `education`, ...) is unknown;
//! * conditions combine in Kleene three-valued logic;
//! * money is exact (`rust_decimal::Decimal`), read from the JSON strings.
//!
//! Usage: `parse_line` each JSONL line, `evaluate` it on the reference date, `add` the
//! result to a [`Summary`], print `to_json()` (the oracle's layout).

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// The ten policy ids, in summary order.
pub const POLICIES: [&str; 10] = [
    "elderly-allowance",
    "unemployment-benefit",
    "graduate-employment-subsidy",
    "minimum-living",
    "disability-living-subsidy",
    "severe-disability-care",
    "flexible-employment-subsidy",
    "entrepreneurship-subsidy",
    "skill-upgrade-subsidy",
    "childcare-subsidy",
];

/// Outcome codes in [`evaluate`]'s result.
pub const NOT_ELIGIBLE: u8 = 0;
/// Eligible: the condition is true.
pub const ELIGIBLE: u8 = 1;
/// Undetermined: the condition is unknown.
pub const UNDETERMINED: u8 = 2;

// ------------------------------------------------------------------ record

/// One person record. `None` in a required field means missing data (unknown).
#[derive(Debug, Deserialize)]
pub struct Person {
    #[serde(default, deserialize_with = "date_opt")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default)]
    pub gender: Option<Gender>,
    #[serde(default)]
    pub hukou: Option<Hukou>,
    #[serde(default)]
    pub education: Option<Education>,
    #[serde(default)]
    pub employment: Option<Employment>,
    #[serde(default)]
    pub social_insurance: Option<SocialInsurance>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub income_monthly: Option<Decimal>,
    #[serde(default)]
    pub disability_level: Option<i64>,
    #[serde(default)]
    pub certificates: Option<Vec<Certificate>>,
    /// Optional: `None` is "has no business" (never unknown).
    #[serde(default)]
    pub business: Option<Business>,
    #[serde(default)]
    pub household: Option<Household>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

#[derive(Debug, Deserialize)]
pub struct Hukou {
    #[serde(default)]
    pub local: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EducationLevel {
    None,
    Primary,
    Secondary,
    College,
    Bachelor,
    Master,
    Doctor,
}

#[derive(Debug, Deserialize)]
pub struct Education {
    #[serde(default)]
    pub level: Option<EducationLevel>,
    /// Optional: `None` is "no graduation date recorded".
    #[serde(default, deserialize_with = "date_opt")]
    pub graduation_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Employed,
    Unemployed,
    Flexible,
    Retired,
    Student,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmployerSize {
    Small,
    Medium,
    Large,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Separation {
    Involuntary,
    Voluntary,
}

#[derive(Debug, Deserialize)]
pub struct Employment {
    #[serde(default)]
    pub status: Option<Status>,
    /// Optional: `None` is "no employer".
    #[serde(default)]
    pub employer_size: Option<EmployerSize>,
    #[serde(default)]
    pub registered_unemployed: Option<bool>,
    /// Optional: `None` is "no separation".
    #[serde(default)]
    pub separation: Option<Separation>,
}

#[derive(Debug, Deserialize)]
pub struct SocialInsurance {
    #[serde(default)]
    pub months_paid: Option<i64>,
    #[serde(default)]
    pub contributing: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Certificate {
    #[serde(default)]
    pub level: Option<i64>,
    #[serde(default, deserialize_with = "date_opt")]
    pub obtained: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
pub struct Business {
    #[serde(default, deserialize_with = "date_opt")]
    pub registered: Option<NaiveDate>,
    #[serde(default)]
    pub operating_months: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Household {
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub assets: Option<Decimal>,
    #[serde(default)]
    pub members: Option<Vec<Member>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Spouse,
    Child,
    Parent,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub relation: Option<Relation>,
    #[serde(default, deserialize_with = "date_opt")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub income_monthly: Option<Decimal>,
}

/// A `YYYY-MM-DD` string (or null) as a date, parsed by hand (chrono's serde support
/// is not enabled in this crate, and this is faster than a format string).
fn date_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<NaiveDate>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date YYYY-MM-DD or null")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse_date(s)
                .map(Some)
                .ok_or_else(|| E::custom(format!("`{s}` is not a date (YYYY-MM-DD)")))
        }
    }
    d.deserialize_option(V)
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Reads one JSONL line.
pub fn parse_line(line: &str) -> Result<Person, serde_json::Error> {
    serde_json::from_str(line)
}

// ------------------------------------------------------------------ logic

/// A three-valued truth (Kleene).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    False,
    True,
    Unknown,
}

use Tri::{False as F, True as T, Unknown as U};

impl Tri {
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (F, _) | (_, F) => F,
            (U, _) | (_, U) => U,
            _ => T,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (T, _) | (_, T) => T,
            (U, _) | (_, U) => U,
            _ => F,
        }
    }
    fn code(self) -> u8 {
        match self {
            F => NOT_ELIGIBLE,
            T => ELIGIBLE,
            U => UNDETERMINED,
        }
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            T
        } else {
            F
        }
    }
}

/// A test on a required value: unknown when it is missing.
fn req<X>(v: Option<X>, f: impl FnOnce(X) -> bool) -> Tri {
    v.map_or(U, |x| f(x).into())
}

/// A test on an optional value read through a required record: unknown when the
/// record is missing, false when the value is none.
fn opt<R, X>(rec: Option<&R>, get: impl FnOnce(&R) -> Option<X>, f: impl FnOnce(X) -> bool) -> Tri {
    match rec {
        None => U,
        Some(r) => get(r).map_or(F, |x| f(x).into()),
    }
}

// ------------------------------------------------------------------ dates

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Whole years completed on `on` (29 February completes a year on 28 February in
/// non-leap years).
fn age_on(birth: NaiveDate, on: NaiveDate) -> i64 {
    let mut years = i64::from(on.year() - birth.year());
    let (bm, mut bd) = (birth.month(), birth.day());
    if bm == 2 && bd == 29 && !is_leap(on.year()) {
        bd = 28;
    }
    if (on.month(), on.day()) < (bm, bd) {
        years -= 1;
    }
    years
}

/// `d` minus `months`, keeping the day and clamping it to the month's last day.
fn minus_months(d: NaiveDate, months: i32) -> NaiveDate {
    let m0 = d.year() * 12 + d.month0() as i32 - months;
    let (y, m) = (m0.div_euclid(12), m0.rem_euclid(12) as u32 + 1);
    let last = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    };
    NaiveDate::from_ymd_opt(y, m, d.day().min(last)).expect("date in range")
}

// ------------------------------------------------------------------ policies

const MIN_WAGE: Decimal = Decimal::from_parts(249000, 0, 0, false, 2);
const MIN_LIVING: Decimal = Decimal::from_parts(110000, 0, 0, false, 2);
const NINE_TENTHS: Decimal = Decimal::from_parts(9, 0, 0, false, 1);
const ASSET_LIMIT: Decimal = Decimal::from_parts(50000, 0, 0, false, 0);

/// The ten decisions for one person on `ref_date`, in [`POLICIES`] order: an outcome
/// code (0 not eligible, 1 eligible, 2 undetermined) and the amount (zero unless
/// eligible; policy 2's is monthly × months).
pub fn evaluate(p: &Person, ref_date: NaiveDate) -> [(u8, Decimal); 10] {
    let zero = Decimal::ZERO;
    let mut out = [(NOT_ELIGIBLE, zero); 10];

    let age = p.birth_date.map(|b| age_on(b, ref_date));
    let hukou = p.hukou.as_ref();
    let local = req(hukou.and_then(|h| h.local), |l| l);
    let edu = p.education.as_ref();
    let emp = p.employment.as_ref();
    let status = emp.and_then(|e| e.status);
    let si = p.social_insurance.as_ref();
    let months_paid = si.and_then(|s| s.months_paid);
    let contributing = req(si.and_then(|s| s.contributing), |c| c);
    let members = p.household.as_ref().and_then(|h| h.members.as_deref());
    let within = |d: Option<NaiveDate>, months: i32| -> Tri {
        req(d, |d| minus_months(ref_date, months) <= d && d <= ref_date)
    };

    // 1 elderly-allowance
    let c = req(age, |a| a >= 80).and(local);
    out[0] = match (c, age) {
        (T, Some(a)) => (
            ELIGIBLE,
            Decimal::from(if a >= 100 {
                1000
            } else if a >= 90 {
                300
            } else {
                100
            }),
        ),
        _ => (c.code(), zero),
    };

    // 2 unemployment-benefit
    let c = req(status, |s| s == Status::Unemployed)
        .and(req(emp.and_then(|e| e.registered_unemployed), |r| r))
        .and(opt(emp, |e| e.separation, |s| s == Separation::Involuntary))
        .and(req(months_paid, |m| m >= 12));
    out[1] = match (c, months_paid) {
        (T, Some(m)) => {
            let months = if m < 60 {
                12
            } else if m < 120 {
                18
            } else {
                24
            };
            (ELIGIBLE, NINE_TENTHS * MIN_WAGE * Decimal::from(months))
        }
        _ => (c.code(), zero),
    };

    // 3 graduate-employment-subsidy
    let c = req(edu.and_then(|e| e.level), |l| {
        matches!(
            l,
            EducationLevel::College
                | EducationLevel::Bachelor
                | EducationLevel::Master
                | EducationLevel::Doctor
        )
    })
    .and(match edu {
        None => U,
        Some(e) => match e.graduation_date {
            None => F,
            d => within(d, 24),
        },
    })
    .and(req(status, |s| s == Status::Employed))
    .and(opt(
        emp,
        |e| e.employer_size,
        |s| matches!(s, EmployerSize::Small | EmployerSize::Medium),
    ))
    .and(req(months_paid, |m| m >= 3));
    out[2] = (c.code(), if c == T { Decimal::from(1500) } else { zero });

    // 4 minimum-living: n = 1 + members, total = own + members' incomes
    let n = members.map(|m| Decimal::from(1 + m.len() as i64));
    let total = match (members, p.income_monthly) {
        (Some(ms), Some(own)) => ms
            .iter()
            .try_fold(own, |acc, m| Some(acc + m.income_monthly?)),
        _ => None,
    };
    let c4 = local
        .and(match (total, n) {
            (Some(t), Some(n)) => (t < MIN_LIVING * n).into(),
            _ => U,
        })
        .and(match (p.household.as_ref().and_then(|h| h.assets), n) {
            (Some(a), Some(n)) => (a < ASSET_LIMIT * n).into(),
            _ => U,
        });
    out[3] = match (c4, total, n) {
        (T, Some(t), Some(n)) => (ELIGIBLE, MIN_LIVING * n - t),
        _ => (c4.code(), zero),
    };

    // 5 disability-living-subsidy
    let disability = p.disability_level;
    let c = req(disability, |d| (1..=4).contains(&d)).and(c4);
    out[4] = (c.code(), if c == T { Decimal::from(150) } else { zero });

    // 6 severe-disability-care
    let c = req(disability, |d| d == 1 || d == 2);
    out[5] = (c.code(), if c == T { Decimal::from(200) } else { zero });

    // 7 flexible-employment-subsidy
    let c = req(status, |s| s == Status::Flexible)
        .and(contributing)
        .and(
            req(p.gender, |g| g == Gender::Female)
                .and(req(age, |a| a >= 40))
                .or(req(p.gender, |g| g == Gender::Male).and(req(age, |a| a >= 50))),
        );
    out[6] = (c.code(), if c == T { Decimal::from(680) } else { zero });

    // 8 entrepreneurship-subsidy (business is optional: none is false)
    let c = match &p.business {
        None => F,
        Some(b) => within(b.registered, 36)
            .and(req(b.operating_months, |m| m >= 6))
            .and(req(age, |a| a >= 18))
            .and(req(age, |a| a < 60)),
    };
    out[7] = (c.code(), if c == T { Decimal::from(5000) } else { zero });

    // 9 skill-upgrade-subsidy: best (lowest) level among the certificates known to be
    // recent
    let (some_recent, best) = match &p.certificates {
        None => (U, None),
        Some(cs) => cs
            .iter()
            .fold((F, None::<Option<i64>>), |(any, best), cert| {
                let r = within(cert.obtained, 12);
                let best = if r == T {
                    Some(match (best, cert.level) {
                        (None, l) => l,
                        (Some(Some(b)), Some(l)) => Some(b.min(l)),
                        _ => None, // a recent certificate of unknown level
                    })
                } else {
                    best
                };
                (any.or(r), best)
            }),
    };
    let c = req(months_paid, |m| m >= 12)
        .and(contributing)
        .and(some_recent);
    out[8] = match (c, best) {
        (T, Some(Some(level))) => (
            ELIGIBLE,
            Decimal::from(match level {
                5 => 1000,
                4 => 1500,
                _ => 2000,
            }),
        ),
        (T, _) => (UNDETERMINED, zero), // eligible, but the level that sets the amount is unknown
        _ => (c.code(), zero),
    };

    // 10 childcare-subsidy: 3600 a year per child known to be under 3
    let (c, young) = match members {
        None => (U, 0i64),
        Some(ms) => ms.iter().fold((F, 0), |(any, young), m| {
            let f = req(m.relation, |r| r == Relation::Child)
                .and(req(m.birth_date, |b| age_on(b, ref_date) < 3));
            (any.or(f), young + i64::from(f == T))
        }),
    };
    out[9] = (
        c.code(),
        if c == T {
            Decimal::from(3600 * young)
        } else {
            zero
        },
    );

    out
}

// ------------------------------------------------------------------ summary

/// Per-policy counts and the exact sum of the eligible amounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// `[not_eligible, eligible, undetermined]` per policy (indexed by outcome code).
    pub counts: [[u64; 3]; 10],
    /// Sum of the eligible amounts per policy.
    pub amounts: [Decimal; 10],
}

impl Summary {
    /// Adds one person's decisions.
    pub fn add(&mut self, decisions: &[(u8, Decimal); 10]) {
        for (i, (code, amount)) in decisions.iter().enumerate() {
            self.counts[i][usize::from(*code)] += 1;
            if *code == ELIGIBLE {
                self.amounts[i] += *amount;
            }
        }
    }

    /// Adds another summary (e.g. one thread's share).
    pub fn merge(&mut self, other: &Summary) {
        for i in 0..10 {
            for k in 0..3 {
                self.counts[i][k] += other.counts[i][k];
            }
            self.amounts[i] += other.amounts[i];
        }
    }

    /// The summary as the oracle prints it (`json.dumps(summary, indent=2)`, without
    /// the final newline).
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\n");
        for (i, id) in POLICIES.iter().enumerate() {
            let mut a = self.amounts[i].round_dp(2);
            a.rescale(2);
            let [not, elig, undet] = self.counts[i];
            s.push_str(&format!(
                "  \"{id}\": {{\n    \"eligible\": {elig},\n    \"not_eligible\": {not},\n    \"undetermined\": {undet},\n    \"amount\": \"{a}\"\n  }}{}\n",
                if i + 1 < POLICIES.len() { "," } else { "" }
            ));
        }
        s.push('}');
        s
    }
}
