//! Hook priorities: MMCV's names and numbers (lower runs first).

use std::fmt;

/// A hook priority, 0 (first) to 100 (last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

const NAMES: [(&str, u8); 9] = [
    ("HIGHEST", 0),
    ("VERY_HIGH", 10),
    ("HIGH", 30),
    ("ABOVE_NORMAL", 40),
    ("NORMAL", 50),
    ("BELOW_NORMAL", 60),
    ("LOW", 70),
    ("VERY_LOW", 90),
    ("LOWEST", 100),
];

impl Priority {
    /// 0.
    pub const HIGHEST: Priority = Priority(0);
    /// 10.
    pub const VERY_HIGH: Priority = Priority(10);
    /// 30.
    pub const HIGH: Priority = Priority(30);
    /// 40.
    pub const ABOVE_NORMAL: Priority = Priority(40);
    /// 50.
    pub const NORMAL: Priority = Priority(50);
    /// 60.
    pub const BELOW_NORMAL: Priority = Priority(60);
    /// 70.
    pub const LOW: Priority = Priority(70);
    /// 90.
    pub const VERY_LOW: Priority = Priority(90);
    /// 100.
    pub const LOWEST: Priority = Priority(100);

    /// A name (case-insensitive, as MMCV's `Priority[p.upper()]`).
    pub fn from_name(name: &str) -> Result<Priority, String> {
        let upper = name.to_ascii_uppercase();
        NAMES
            .iter()
            .find(|(n, _)| *n == upper)
            .map(|(_, v)| Priority(*v))
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown priority `{name}`; use an integer 0..=100 or one of {}",
                    names.join(", ")
                )
            })
    }

    /// An integer, which must be in 0..=100.
    pub fn from_int(value: i64) -> Result<Priority, String> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(Priority)
            .ok_or_else(|| format!("priority must be between 0 and 100, not {value}"))
    }

    /// MMCV's name when the value has one (`get_hook_info` shows the number otherwise).
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(_, v)| *v == self.0).map(|(n, _)| *n)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_ints_are_bounded() {
        assert_eq!(Priority::from_name("low"), Ok(Priority::LOW));
        assert_eq!(Priority::from_name("Very_High"), Ok(Priority::VERY_HIGH));
        assert!(Priority::from_name("MEDIUM").is_err());
        assert_eq!(Priority::from_int(45), Ok(Priority(45)));
        assert!(Priority::from_int(101).is_err());
        assert!(Priority::from_int(-1).is_err());
    }
}
