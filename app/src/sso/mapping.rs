//! Provisioning settings and role mapping rules: `claim` + operator +
//! value → role, evaluated in order, first match wins, no match gives the
//! default role.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// The claim (a string, number or boolean) equals the value.
    Equals,
    /// The claim is an array holding the value (a single string counts as
    /// an array of one).
    Contains,
    /// The claim, or an element of it, matches the value as a regex
    /// anchored at both ends.
    Matches,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "equals",
            Self::Contains => "contains",
            Self::Matches => "matches",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "equals" => Some(Self::Equals),
            "contains" => Some(Self::Contains),
            "matches" => Some(Self::Matches),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleMapping {
    pub claim: String,
    pub operator: Operator,
    pub value: String,
    pub role: String,
}

impl RoleMapping {
    /// "groups contains admins → admin", as the console shows it.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} → {}",
            self.claim,
            self.operator.as_str(),
            self.value,
            self.role
        )
    }
}

/// Just-in-time provisioning and role mapping, as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Provisioning {
    pub jit_enabled: bool,
    pub default_role: String,
    pub role_mappings: Vec<RoleMapping>,
}

#[cfg(feature = "ssr")]
pub use eval::{MAX_RULES, check, evaluate};

#[cfg(feature = "ssr")]
mod eval {
    use super::{Operator, Provisioning, RoleMapping};
    use crate::error::AppError;
    use crate::orgs::access::{Access, may_grant};
    use crate::orgs::members::role_exists;
    use crate::ssr::db::Db;
    use serde_json::{Map, Value};
    use std::net::IpAddr;

    pub const MAX_RULES: usize = 50;
    const MAX_VALUE: usize = 500;
    /// Compiled-program budget for a `matches` pattern, so a rule cannot
    /// make sign-ins slow or memory-hungry.
    const REGEX_SIZE_LIMIT: usize = 64 * 1024;

    /// Anchors `pattern` at both ends. Wrapping the text in `^(?:…)$` is
    /// not enough: `x)|(?:.*` would close the group and match everyone. So
    /// the pattern is parsed on its own first, and the anchored regex is
    /// built from what the parser printed back (balanced by construction,
    /// no comments or flags that could reach past the group).
    fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
        let hir = regex_syntax::Parser::new()
            .parse(pattern)
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;
        regex::RegexBuilder::new(&format!("^(?:{hir})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
    }

    /// Compiled rules, once per pattern (not at every sign-in); a pattern
    /// that does not compile is remembered as such.
    fn compiled(pattern: &str) -> Option<std::sync::Arc<regex::Regex>> {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex, OnceLock};
        type Cache = Mutex<HashMap<String, Option<Arc<regex::Regex>>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        /// Rules are few per organization; this bounds memory across many.
        const MAX_CACHED: usize = 4096;
        let cache = CACHE.get_or_init(Cache::default);
        if let Some(hit) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
            return hit;
        }
        let built = compile(pattern).ok().map(Arc::new);
        if let Ok(mut c) = cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(pattern.to_owned(), built.clone());
        }
        built
    }

    fn rule_error(index: usize, field: &str, msg: String) -> AppError {
        AppError::unprocessable("invalid_role_mapping", format!("Rule {}: {msg}", index + 1))
            .on(&format!("role_mappings[{index}].{field}"))
    }

    async fn check_role(db: &Db, org_id: &str, role: &str) -> Result<Option<String>, AppError> {
        if role == "owner" {
            return Ok(Some(
                "the owner role is never given by the identity provider; an owner grants it in Members."
                    .into(),
            ));
        }
        if !role_exists(db, org_id, role).await? {
            return Ok(Some(format!(
                "there is no role “{role}” in this organization."
            )));
        }
        Ok(None)
    }

    /// Validates and normalizes (trims) the settings; errors name the rule
    /// (1-based) and its field. Every role the settings hand out must be one
    /// the caller may grant.
    pub async fn check(
        db: &Db,
        access: &Access,
        p: Provisioning,
        ip: Option<IpAddr>,
    ) -> Result<Provisioning, AppError> {
        let org_id = access.org_id.as_str();
        let default_role = p.default_role.trim().to_owned();
        if let Some(msg) = check_role(db, org_id, &default_role).await? {
            return Err(AppError::unprocessable(
                "invalid_default_role",
                format!("Default role: {msg}"),
            )
            .on("default_role"));
        }
        may_grant(db, access, &default_role, ip)
            .await
            .map_err(|e| e.on("default_role"))?;
        if p.role_mappings.len() > MAX_RULES {
            return Err(AppError::unprocessable(
                "too_many_role_mappings",
                format!("At most {MAX_RULES} mapping rules."),
            )
            .on("role_mappings"));
        }
        let mut rules = Vec::with_capacity(p.role_mappings.len());
        for (i, rule) in p.role_mappings.into_iter().enumerate() {
            let claim = rule.claim.trim().to_owned();
            if claim.is_empty() || claim.len() > 100 || !claim.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(rule_error(
                    i,
                    "claim",
                    "name the claim in 1 to 100 visible characters (e.g. groups).".into(),
                ));
            }
            let value = rule.value.trim().to_owned();
            if value.is_empty() || value.chars().count() > MAX_VALUE {
                return Err(rule_error(
                    i,
                    "value",
                    format!("enter a value of 1 to {MAX_VALUE} characters."),
                ));
            }
            if rule.operator == Operator::Matches
                && let Err(e) = compile(&value)
            {
                let why = match e {
                    regex::Error::CompiledTooBig(_) => "the pattern is too large.".to_owned(),
                    other => {
                        let text = other.to_string();
                        let last = text.lines().last().unwrap_or("").trim().to_owned();
                        format!("the pattern is not a valid regular expression ({last}).")
                    }
                };
                return Err(rule_error(i, "value", why));
            }
            let role = rule.role.trim().to_owned();
            if let Some(msg) = check_role(db, org_id, &role).await? {
                return Err(rule_error(i, "role", msg));
            }
            may_grant(db, access, &role, ip)
                .await
                .map_err(|e| e.on(&format!("role_mappings[{i}].role")))?;
            rules.push(RoleMapping {
                claim,
                operator: rule.operator,
                value,
                role,
            });
        }
        Ok(Provisioning {
            jit_enabled: p.jit_enabled,
            default_role,
            role_mappings: rules,
        })
    }

    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn elements(v: &Value) -> Vec<String> {
        match v {
            Value::Array(items) => items.iter().filter_map(scalar).collect(),
            other => scalar(other).into_iter().collect(),
        }
    }

    fn matches(rule: &RoleMapping, claims: &Map<String, Value>) -> bool {
        let Some(claim) = claims.get(&rule.claim) else {
            return false;
        };
        match rule.operator {
            Operator::Equals => scalar(claim).is_some_and(|s| s == rule.value),
            Operator::Contains => elements(claim).contains(&rule.value),
            // Validated at save time; a rule that no longer compiles never
            // matches rather than failing the sign-in.
            Operator::Matches => compiled(&rule.value)
                .is_some_and(|re| elements(claim).iter().any(|s| re.is_match(s))),
        }
    }

    /// The index of the first rule the claims match.
    pub fn evaluate(rules: &[RoleMapping], claims: &Map<String, Value>) -> Option<usize> {
        rules.iter().position(|r| matches(r, claims))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        fn rule(claim: &str, operator: Operator, value: &str, role: &str) -> RoleMapping {
            RoleMapping {
                claim: claim.into(),
                operator,
                value: value.into(),
                role: role.into(),
            }
        }

        fn claims(v: Value) -> Map<String, Value> {
            v.as_object().cloned().expect("an object")
        }

        #[test]
        fn first_matching_rule_wins() {
            let rules = [
                rule("groups", Operator::Contains, "admins", "admin"),
                rule("groups", Operator::Contains, "staff", "member"),
            ];
            let c = claims(json!({"groups": ["staff", "admins"]}));
            assert_eq!(evaluate(&rules, &c), Some(0));
            let c = claims(json!({"groups": ["staff"]}));
            assert_eq!(evaluate(&rules, &c), Some(1));
            let c = claims(json!({"groups": ["guests"]}));
            assert_eq!(evaluate(&rules, &c), None);
            assert_eq!(evaluate(&rules, &claims(json!({}))), None);
        }

        #[test]
        fn equals_compares_scalars_only() {
            let rules = [rule("dept", Operator::Equals, "eng", "admin")];
            assert_eq!(evaluate(&rules, &claims(json!({"dept": "eng"}))), Some(0));
            assert_eq!(
                evaluate(&rules, &claims(json!({"dept": "engineering"}))),
                None
            );
            assert_eq!(evaluate(&rules, &claims(json!({"dept": ["eng"]}))), None);
            let rules = [rule("level", Operator::Equals, "3", "admin")];
            assert_eq!(evaluate(&rules, &claims(json!({"level": 3}))), Some(0));
        }

        #[test]
        fn contains_treats_a_string_as_one_element() {
            let rules = [rule("groups", Operator::Contains, "admins", "admin")];
            assert_eq!(
                evaluate(&rules, &claims(json!({"groups": "admins"}))),
                Some(0)
            );
            assert_eq!(
                evaluate(&rules, &claims(json!({"groups": "xadmins"}))),
                None
            );
            assert_eq!(
                evaluate(&rules, &claims(json!({"groups": ["xadmins"]}))),
                None
            );
        }

        #[test]
        fn matches_is_anchored() {
            let rules = [rule("groups", Operator::Matches, "eng-.*", "admin")];
            assert_eq!(
                evaluate(&rules, &claims(json!({"groups": ["eng-core"]}))),
                Some(0)
            );
            assert_eq!(
                evaluate(&rules, &claims(json!({"groups": ["x-eng-core"]}))),
                None
            );
            let rules = [rule("email", Operator::Matches, "a|b", "admin")];
            // Anchoring wraps the whole alternation, not only its ends.
            assert_eq!(evaluate(&rules, &claims(json!({"email": "ab"}))), None);
            assert_eq!(evaluate(&rules, &claims(json!({"email": "b"}))), Some(0));
        }

        #[test]
        fn a_pattern_cannot_escape_its_anchors() {
            for escape in ["x)|(?:.*", "x)|.*|(?:y", "(?x)x#\n)|(?:.*"] {
                assert!(compile(escape).is_err(), "{escape:?} compiled");
                let rules = [rule("email", Operator::Matches, escape, "admin")];
                let c = claims(json!({"email": "anyone@example.com"}));
                assert_eq!(evaluate(&rules, &c), None, "{escape:?} matched everyone");
            }
            // Flags and comments stay inside the rule.
            let rules = [rule(
                "dept",
                Operator::Matches,
                "(?i)eng # engineering",
                "admin",
            )];
            assert_eq!(
                evaluate(&rules, &claims(json!({"dept": "ENG # engineering"}))),
                Some(0)
            );
            let rules = [rule(
                "dept",
                Operator::Matches,
                "(?x) eng # a comment",
                "admin",
            )];
            assert_eq!(evaluate(&rules, &claims(json!({"dept": "eng"}))), Some(0));
            assert_eq!(evaluate(&rules, &claims(json!({"dept": "engx"}))), None);
        }

        #[test]
        fn oversized_patterns_do_not_compile() {
            assert!(compile("(a{1,100}){1,100}").is_err());
            assert!(compile("eng-[a-z]+").is_ok());
        }
    }
}
