use super::*;
use overlay::config::ClusterConfig;

fn layout() -> Layout {
    let text = include_str!("../../../../configs/two_hosts_config.json");
    Layout::of(&ClusterConfig::from_json(text).unwrap(), "00abcd").unwrap()
}

fn ids(names: &[&str]) -> Vec<NodeId> {
    names.iter().map(|n| NodeId(n.to_string())).collect()
}

#[test]
fn a_two_way_blackhole_cuts_each_side_s_output_to_the_other() {
    let fault = NetFault::Partition {
        from: ids(&["A"]),
        to: ids(&["C", "E"]),
        one_way: false,
        cut: Cut::Blackhole,
    };
    let rules = fault.rules(&layout()).unwrap();
    let chain = |to: &str| {
        vec![format!(
            "chain cut {{ type filter hook output priority 0; ip daddr {{ {to} }} drop; }}"
        )]
    };
    assert_eq!(
        rules,
        [
            ("ovl-00abcd-h0".to_string(), chain("192.168.1.11")),
            ("ovl-00abcd-h1".to_string(), chain("192.168.1.10")),
        ]
    );
    let one_way = NetFault::Partition {
        from: ids(&["E"]),
        to: ids(&["B"]),
        one_way: true,
        cut: Cut::Reject,
    };
    let rules = one_way.rules(&layout()).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].0, "ovl-00abcd-h1");
    assert!(rules[0].1[0].contains("reject with tcp reset"), "{rules:?}");
}

#[test]
fn loss_is_a_numgen_share_both_ways_on_the_host_link() {
    let rules = NetFault::Loss {
        on: ids(&["D"]),
        percent: 5.0,
    }
    .rules(&layout())
    .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].0, "ovl-00abcd-h1");
    assert!(rules[0]
        .1
        .iter()
        .all(|r| r.contains("numgen random mod 10000 < 500 drop")));
    assert!(rules[0].1[0].contains("oifname \"eth0\""));
    assert!(rules[0].1[1].contains("iifname \"eth0\""));
}

#[test]
fn bad_faults_are_refused_naming_the_key() {
    let partition = |from: &[&str], to: &[&str]| NetFault::Partition {
        from: ids(from),
        to: ids(to),
        one_way: false,
        cut: Cut::Blackhole,
    };
    let err = |fault: NetFault| fault.rules(&layout()).unwrap_err().to_string();
    let unknown = err(partition(&["A"], &["Z"]));
    assert!(
        unknown.starts_with("partition.to: unknown process 'Z' (known: A, B, F, C, D, E)"),
        "{unknown}"
    );
    let overlap = err(partition(&["A"], &["B", "C"]));
    assert!(
        overlap.contains("overlap on host 192.168.1.10 (A, B)"),
        "{overlap}"
    );
    assert_eq!(
        err(partition(&[], &["C"])),
        "partition.from names no process"
    );
    for percent in [0.0, -1.0, 100.5, f64::NAN] {
        let loss = err(NetFault::Loss {
            on: ids(&["C"]),
            percent,
        });
        assert!(loss.starts_with("loss.percent is"), "{loss}");
    }
}
