//! Three-valued truth and the Kleene connectives.

use serde::Serialize;
use std::ops::ControlFlow;

/// A condition's value: true, false, unknown for missing data, or an evaluation error.
/// (Any known value that is not `true`, a known "none" included, counts as false.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Truth {
    /// True.
    True,
    /// False.
    False,
    /// unknown (missing data)
    Unknown,
    /// the condition could not be evaluated (see the decision's error)
    Error,
}

impl Truth {
    /// The mark a trace shows for the value: `✓` true, `✗` false, `?` unknown, `!` an
    /// evaluation error.
    pub fn mark(self) -> &'static str {
        match self {
            Truth::True => "✓",
            Truth::False => "✗",
            Truth::Unknown => "?",
            Truth::Error => "!",
        }
    }

    /// A known boolean.
    #[inline(always)]
    pub fn known(b: bool) -> Truth {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }

    /// Of two undecided results, the one that stands: an error, then unknown, then
    /// `self`.
    #[inline(always)]
    pub fn worse(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::Error, _) | (_, Truth::Error) => Truth::Error,
            (Truth::Unknown, _) | (_, Truth::Unknown) => Truth::Unknown,
            _ => self,
        }
    }
}

impl std::ops::Not for Truth {
    type Output = Truth;
    /// `not`: swaps true and false, keeps unknown and errors.
    #[inline(always)]
    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            t => t,
        }
    }
}

/// A Kleene connective: `and` or `or`.
///
/// One operand with the deciding value (`false` for `and`, `true` for `or`) decides the
/// whole, whatever the others are, errors included; otherwise an error in any operand
/// is the whole's, else an unknown operand makes it unknown, else it is the identity
/// (`true` for `and`, `false` for `or`). The result does not depend on the order of
/// the operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connective {
    /// Kleene `and`.
    And,
    /// Kleene `or`.
    Or,
}

impl Connective {
    /// The value with which one operand decides the whole.
    #[inline(always)]
    pub fn deciding(self) -> Truth {
        match self {
            Connective::And => Truth::False,
            Connective::Or => Truth::True,
        }
    }

    /// The whole of no operands.
    #[inline(always)]
    pub fn identity(self) -> Truth {
        !self.deciding()
    }

    /// Folds one more operand into the whole so far: `Break` with the result when the
    /// operand decides it.
    #[inline(always)]
    pub fn step(self, whole: Truth, operand: Truth) -> ControlFlow<Truth, Truth> {
        if operand == self.deciding() {
            ControlFlow::Break(operand)
        } else {
            // Neither is the deciding value: each is the identity, unknown or an error,
            // and `worse` keeps the later of them in that order, the order in which the
            // variants are declared (the identity, `true` or `false`, comes first).
            ControlFlow::Continue(if operand as u8 > whole as u8 {
                operand
            } else {
                whole
            })
        }
    }

    /// The whole of the given operands (evaluated lazily, up to the deciding one).
    #[inline(always)]
    pub fn fold(self, operands: impl IntoIterator<Item = Truth>) -> Truth {
        let mut whole = self.identity();
        for t in operands {
            match self.step(whole, t) {
                ControlFlow::Break(t) => return t,
                ControlFlow::Continue(w) => whole = w,
            }
        }
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Truth; 4] = [Truth::True, Truth::False, Truth::Unknown, Truth::Error];

    #[test]
    fn a_step_keeps_the_worse_of_two_undecided_values() {
        for c in [Connective::And, Connective::Or] {
            let undecided = [c.identity(), Truth::Unknown, Truth::Error];
            for w in undecided {
                for t in undecided {
                    assert_eq!(
                        c.step(w, t),
                        ControlFlow::Continue(w.worse(t)),
                        "{c:?} {w:?} {t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn kleene_tables() {
        use Truth::*;
        let and = |a, b| Connective::And.fold([a, b]);
        let or = |a, b| Connective::Or.fold([a, b]);
        assert_eq!(and(True, True), True);
        assert_eq!(and(True, Unknown), Unknown);
        assert_eq!(and(Unknown, False), False);
        assert_eq!(and(Error, False), False);
        assert_eq!(and(Error, Unknown), Error);
        assert_eq!(or(Unknown, True), True);
        assert_eq!(or(False, Unknown), Unknown);
        assert_eq!(or(Error, True), True);
        assert_eq!(or(False, False), False);
        for a in ALL {
            for b in ALL {
                assert_eq!(and(a, b), and(b, a));
                assert_eq!(or(a, b), or(b, a));
                // De Morgan holds in Kleene logic.
                assert_eq!(!and(a, b), or(!a, !b));
            }
        }
    }
}
