use super::*;

fn price(input: f64, output: f64) -> Price {
    Price {
        input,
        output,
        cache_write: input * 1.25,
        cache_read: input * 0.1,
    }
}

#[test]
fn money_reads_as_dollars_and_small_sums_keep_their_digits() {
    assert_eq!(MicroUsd(420_000).to_string(), "$0.42");
    assert_eq!(MicroUsd(12_000_000).to_string(), "$12.00");
    assert_eq!(MicroUsd(3_100).to_string(), "$0.0031");
    assert_eq!(MicroUsd(0).to_string(), "$0.00");
    assert_eq!(MicroUsd::from_usd(2.0000001), MicroUsd(2_000_001));
}

#[test]
fn a_call_costs_each_kind_of_token_at_its_price_rounded_up() {
    let sonnet = PriceTable::default().get("claude-sonnet-4-5").unwrap();
    let usage = Usage {
        input: 1000,
        output: 100,
        cache_write: 2000,
        cache_read: 10_000,
    };
    // 1000×3 + 100×15 + 2000×3.75 + 10000×0.3 micro-dollars
    assert_eq!(sonnet.cost(&usage), MicroUsd(3000 + 1500 + 7500 + 3000));
    assert_eq!(usage.tokens_in(), 13_000);
    let one = Usage {
        output: 1,
        ..Usage::default()
    };
    assert_eq!(
        price(0.1, 0.1).cost(&one),
        MicroUsd(1),
        "a fraction is rounded up"
    );
}

#[test]
fn dated_and_latest_model_ids_take_their_family_price_and_unknown_ones_none() {
    let table = PriceTable::default();
    let base = table.get("claude-sonnet-4-5").unwrap();
    assert_eq!(table.get("claude-sonnet-4-5-20250929"), Some(base));
    assert_eq!(table.get("gpt-4o-2024-08-06"), table.get("gpt-4o"));
    assert_eq!(
        table.get("claude-3-5-haiku-latest"),
        table.get("claude-3-5-haiku")
    );
    assert_eq!(table.get("my-own-model"), None);
    assert_eq!(table.get("gpt-4o-20240806x"), None);
}

#[test]
fn configured_prices_override_and_extend_the_table_and_mistakes_are_named() {
    let table: toml::Table = r#"
        [my-model]
        input = 1
        output = 2.5
        [claude-sonnet-4-5]
        input = 30.0
        output = 150.0
        cache_read = 3.0
    "#
    .parse()
    .unwrap();
    let prices = PriceTable::with_overrides(&table).unwrap();
    let mine = prices.get("my-model").unwrap();
    assert_eq!(
        (mine.input, mine.output, mine.cache_write, mine.cache_read),
        (1.0, 2.5, 1.0, 1.0)
    );
    assert_eq!(prices.get("claude-sonnet-4-5").unwrap().input, 30.0);
    assert_eq!(prices.get("claude-sonnet-4-5").unwrap().cache_read, 3.0);

    for (text, problem) in [
        ("[m]\noutput = 1", "prices.\"m\": input is missing"),
        (
            "[m]\ninput = -1\noutput = 1",
            "prices.\"m\": input must be USD per million tokens, 0 or more",
        ),
        (
            "[m]\ninput = 1\noutput = 1\ncached = 2",
            "prices.\"m\": unknown key cached (known: input, output, cache_write, cache_read)",
        ),
        (
            "m = 3",
            "prices.\"m\": must be a table like { input = 3.0, output = 15.0 }",
        ),
    ] {
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(
            PriceTable::with_overrides(&table).unwrap_err().to_string(),
            problem
        );
    }
}

#[test]
fn the_tightest_cap_binds() {
    let caps = Caps {
        job: MicroUsd(2_000_000),
        repo_month: Some(MicroUsd(10_000_000)),
        installation_month: Some(MicroUsd(3_000_000)),
        agent_month: Some(MicroUsd(50_000_000)),
    };
    let spent = Spent {
        job: MicroUsd(500_000),
        repo_month: MicroUsd(1_000_000),
        installation_month: MicroUsd(2_500_000),
        agent_month: MicroUsd(49_700_000),
    };
    assert_eq!(caps.room(&spent), (MicroUsd(300_000), Cap::AgentMonth));
    let agent_open = Caps {
        agent_month: None,
        ..caps
    };
    assert_eq!(
        agent_open.room(&spent),
        (MicroUsd(500_000), Cap::InstallationMonth)
    );
    let over = Spent {
        job: MicroUsd(3_000_000),
        ..Spent::default()
    };
    assert_eq!(
        caps.room(&over),
        (MicroUsd(0), Cap::Job),
        "room is never negative"
    );
    let open = Caps {
        repo_month: None,
        installation_month: None,
        agent_month: None,
        ..caps
    };
    assert_eq!(open.room(&spent), (MicroUsd(1_500_000), Cap::Job));
}

#[test]
fn a_call_that_fits_goes_as_asked_holding_its_worst_case() {
    let p = price(3.0, 15.0);
    let room = (MicroUsd(1_000_000), Cap::Job);
    // 1000 bytes and the overhead at the dearest input (3.75) + 1000 tokens at 15
    let input = (1000 + INPUT_OVERHEAD_TOKENS as i64) * 375 / 100;
    let decision = decide(&p, 1000, Some(1000), 32_000, room);
    assert_eq!(
        decision,
        Decision::Forward {
            reserve: MicroUsd(input + 15_000),
            max_tokens: 1000,
            lowered: false
        }
    );
    // Without a limit of its own the ceiling is set, and said to be.
    let decision = decide(&p, 1000, None, 4000, room);
    assert_eq!(
        decision,
        Decision::Forward {
            reserve: MicroUsd(input + 60_000),
            max_tokens: 4000,
            lowered: true
        }
    );
}

#[test]
fn a_call_above_the_room_is_lowered_to_what_is_left_or_refused() {
    let p = price(3.0, 15.0);
    // Room for the input and 1000 output tokens (15000).
    let input = (1000 + INPUT_OVERHEAD_TOKENS as i64) * 375 / 100;
    let room = (MicroUsd(input + 15_000), Cap::RepoMonth);
    let Decision::Forward {
        reserve,
        max_tokens,
        lowered,
    } = decide(&p, 1000, Some(8000), 32_000, room)
    else {
        panic!("expected the call lowered");
    };
    assert_eq!((max_tokens, lowered), (1000, true));
    assert!(reserve <= room.0);
    // Not even MIN_ANSWER_TOKENS fit: refused, naming the cap.
    let tight = (
        MicroUsd(input + 15 * (MIN_ANSWER_TOKENS as i64) - 1),
        Cap::RepoMonth,
    );
    assert_eq!(
        decide(&p, 1000, Some(8000), 32_000, tight),
        Decision::Refuse {
            cap: Cap::RepoMonth
        }
    );
    assert_eq!(
        decide(&p, 1000, Some(10), 32_000, (MicroUsd(0), Cap::Job)),
        Decision::Refuse { cap: Cap::Job }
    );
}

#[test]
fn every_cap_says_where_it_is_set() {
    assert!(Cap::Job.explain("$2.00").contains("`budget.job_usd`"));
    assert!(Cap::RepoMonth
        .explain("$2.00")
        .contains("AGEN_REPO_MONTHLY_USD"));
    assert!(Cap::InstallationMonth
        .explain("$2.00")
        .contains("AGEN_INSTALLATION_MONTHLY_USD"));
    assert!(Cap::JobCpu
        .explain("10 min")
        .contains("`budget.cpu_minutes`"));
    for cap in [
        Cap::Job,
        Cap::RepoMonth,
        Cap::InstallationMonth,
        Cap::JobCpu,
    ] {
        assert_eq!(Cap::parse(cap.as_str()), Some(cap));
    }
}
