use serde_json::{json, Value};

use super::*;

fn catalog() -> Catalog {
    Catalog::builtin().expect("catalog")
}

/// Decides `intent_type` for an agent at `tier` with `params`.
fn decide(
    policy: &Policy,
    catalog: &Catalog,
    tier: TrustTier,
    intent_type: &str,
    params: Value,
) -> Decision {
    let known = catalog.intent_type(intent_type).expect("known type");
    let agent = json!({"id": "a", "trustTier": tier.as_str()});
    let intent = json!({"type": intent_type, "domain": known.domain, "risk": known.risk.as_str()});
    policy.evaluate(&Facts {
        domain: &known.domain,
        intent_type,
        risk: known.risk,
        tier,
        params: &params,
        agent: &agent,
        intent: &intent,
        time: &json!({"hour": 12}),
    })
}

fn approvals(decision: &Decision) -> Option<u32> {
    match decision.outcome {
        Outcome::RequireApproval { approvers, .. } => Some(approvers),
        _ => None,
    }
}

#[test]
fn the_shipped_default_policy_follows_tiers_and_risk() {
    let catalog = catalog();
    let policy = Policy::shipped(&catalog).expect("the shipped policy compiles");
    use TrustTier::*;
    // (tier, type (risk), expected: Some(approvers) or None = auto-approved)
    let table = [
        (T0, "support.create_ticket", Some(1)),     // low
        (T0, "billing.send_invoice", Some(1)),      // medium
        (T0, "identity.deprovision_user", Some(2)), // critical
        (T1, "support.create_ticket", None),        // low
        (T1, "billing.send_invoice", Some(1)),      // medium
        (T2, "billing.send_invoice", None),         // medium
        (T2, "billing.process_refund", Some(1)),    // high
        (T3, "billing.process_refund", None),       // high
        (T4, "billing.process_refund", None),       // high
        (T4, "identity.deprovision_user", Some(2)), // critical: always two
        (T4, "compliance.process_dsar", Some(2)),   // critical
    ];
    for (tier, intent_type, expected) in table {
        let decision = decide(&policy, &catalog, tier, intent_type, json!({}));
        assert_eq!(
            approvals(&decision),
            expected,
            "{tier} {intent_type}: {decision:?}"
        );
        assert_eq!(decision.policy_version, 0);
        assert!(!decision.reason.is_empty() && !decision.trace.is_empty());
    }
}

#[test]
fn conditions_on_params_decide_and_are_traced() {
    let catalog = catalog();
    let document = json!({
        "rules": [
            {"name": "huge-invoices", "match": {"types": ["billing.*"]},
             "condition": "params.amount > 10000",
             "outcome": {"type": "block", "reason": "invoices over 10k are sent by people"}},
            {"name": "small-invoices", "match": {"types": ["billing.send_invoice"]},
             "condition": "has(params.amount) && params.amount <= 100",
             "outcome": {"type": "auto_approve"}}
        ],
        "default": {"type": "require_approval", "approvers": 1, "expiresIn": "24h"}
    });
    let policy = Policy::compile(document, 7, &catalog).expect("compiles");
    let blocked = decide(
        &policy,
        &catalog,
        TrustTier::T0,
        "billing.send_invoice",
        json!({"customerId": "c", "amount": 50000}),
    );
    assert_eq!(
        blocked.outcome,
        Outcome::Block {
            reason: "invoices over 10k are sent by people".into()
        }
    );
    assert_eq!(
        (blocked.rule.as_deref(), blocked.policy_version),
        (Some("huge-invoices"), 7)
    );
    let small = decide(
        &policy,
        &catalog,
        TrustTier::T0,
        "billing.send_invoice",
        json!({"customerId": "c", "amount": 99.99}),
    );
    assert_eq!(small.outcome, Outcome::AutoApprove);
    assert_eq!(small.trace.len(), 2);
    assert!(!small.trace[0].matched && small.trace[0].detail.contains("false"));
    // A missing field leaves the rule unmatched and says so; the default decides.
    let other = decide(
        &policy,
        &catalog,
        TrustTier::T0,
        "billing.generate_statement",
        json!({}),
    );
    assert_eq!(approvals(&other), Some(1));
    assert_eq!(other.rule, None);
    assert!(
        other.trace[0].detail.contains("amount"),
        "{:?}",
        other.trace
    );
}

#[test]
fn invalid_documents_name_the_rule_and_field_at_fault() {
    let catalog = catalog();
    let document = json!({
        "rules": [
            {"name": "ok", "outcome": {"type": "auto_approve"}},
            {"name": "ok", "match": {"domains": ["hr"], "types": ["billing.nope"], "tiers": ["T9"]},
             "condition": "params.amount >", "outcome": {"type": "require_approval", "approvers": 0}},
            {"name": "forever", "outcome": {"type": "require_approval", "approvers": 1, "expiresIn": "90d"}},
            {"name": "quiet", "outcome": {"type": "block", "reason": ""}}
        ],
        "default": {"type": "auto_approve"}
    });
    let errors = Policy::compile(document, 1, &catalog).unwrap_err();
    let paths: Vec<String> = errors.iter().map(|e| e.path.join(".")).collect();
    assert_eq!(
        paths,
        [
            "rules.1.name",
            "rules.1.match",
            "rules.1.match",
            "rules.1.match",
            "rules.1.condition",
            "rules.1.outcome",
            "rules.2.outcome",
            "rules.3.outcome"
        ]
    );
    assert!(errors.iter().all(|e| e.message.starts_with("rule '")));
    for not_a_policy in [
        json!([]),
        json!({"rules": []}),
        json!({"rules": [], "default": {"type": "maybe"}}),
        json!({"rules": [], "default": {"type": "auto_approve"}, "extra": 1}),
    ] {
        assert!(Policy::compile(not_a_policy, 1, &catalog).is_err());
    }
}

#[test]
fn shape_faults_name_where_they_are() {
    let catalog = catalog();
    let fault_path = |document: Value| -> Vec<String> {
        let errors = Policy::compile(document, 1, &catalog).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.starts_with("not a policy document: "));
        errors[0].path.clone()
    };
    let allow = json!({"type": "auto_approve"});
    assert_eq!(
        fault_path(json!({"rules": [
            {"name": "ok", "outcome": allow},
            {"name": "bad", "outcome": {"type": "maybe"}}
        ], "default": allow})),
        ["rules", "1", "outcome", "type"]
    );
    assert_eq!(
        fault_path(
            json!({"rules": [{"name": "x", "outcome": allow, "colour": 1}], "default": allow})
        ),
        ["rules", "0", "colour"]
    );
    // Inside an outcome (a tagged enum, read from a buffer) the path stops at the outcome.
    assert_eq!(
        fault_path(json!({"rules": [], "default": {"type": "block", "reason": 7}})),
        ["default"]
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration_ms("30m"), Some(1_800_000));
    assert_eq!(parse_duration_ms("24h"), Some(86_400_000));
    assert_eq!(parse_duration_ms("30d"), Some(30 * 86_400_000));
    for bad in ["", "0h", "31d", "5", "5s", "-1h", "99999999999999999d"] {
        assert_eq!(parse_duration_ms(bad), None, "{bad}");
    }
}

/// A document of `rules`, each auto-approving when its `condition` holds.
fn with_conditions(conditions: &[String]) -> Value {
    let rules: Vec<Value> = conditions
        .iter()
        .enumerate()
        .map(|(i, condition)| json!({"name": format!("r{i}"), "condition": condition, "outcome": {"type": "auto_approve"}}))
        .collect();
    json!({"rules": rules, "default": {"type": "require_approval", "approvers": 1}})
}

#[test]
fn nested_macros_are_refused_naming_the_rule_and_field() {
    let bomb = format!(
        "{}true{}",
        "[0,1,2,3,4,5,6,7,8,9].all(v, ".repeat(7),
        ")".repeat(7)
    );
    let errors =
        Policy::compile(with_conditions(&["true".into(), bomb]), 1, &catalog()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, ["rules", "1", "condition"]);
    assert!(errors[0]
        .message
        .starts_with("rule 'r1': condition nests a macro"));
}

#[test]
fn documents_are_capped_in_rules_bytes_and_cost() {
    let catalog = catalog();
    let small = |count: usize| with_conditions(&vec!["params.amount > 1".to_string(); count]);
    assert!(Policy::compile(small(MAX_RULES), 1, &catalog).is_ok());
    let errors = Policy::compile(small(MAX_RULES + 1), 1, &catalog).unwrap_err();
    assert_eq!(errors[0].path, ["rules"]);
    assert!(errors[0].message.contains("at most 100"), "{errors:?}");
    // 200 rules of 2 KB: refused by size before any condition is compiled.
    let padding = "x".repeat(1_950);
    let large = vec![format!("params.note != '{padding}'"); 200];
    let errors = Policy::compile(with_conditions(&large), 1, &catalog).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].path.is_empty() && errors[0].message.contains("at most 65536"));
    // Loops over inputs add up across rules; the one that crosses the budget is named.
    let input_loop = "params.lines.all(l, l.amount < 100 && l.currency == 'EUR')".to_string();
    let mut conditions = vec![input_loop; 6];
    assert!(Policy::compile(with_conditions(&conditions), 1, &catalog).is_ok());
    conditions.extend(vec!["params.lines.exists(l, l.amount > 5)".to_string(); 4]);
    let errors = Policy::compile(with_conditions(&conditions), 1, &catalog).unwrap_err();
    assert!(
        errors[0].path[1].parse::<usize>().unwrap() >= 6,
        "{errors:?}"
    );
    assert!(
        errors[0].message.contains("over the budget of 1000000"),
        "{errors:?}"
    );
}
