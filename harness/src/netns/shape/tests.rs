use super::*;
use overlay::config::ClusterConfig;

fn layout() -> Layout {
    let text = include_str!("../../../../configs/two_hosts_config.json");
    Layout::of(&ClusterConfig::from_json(text).unwrap(), "00abcd").unwrap()
}

fn link(
    latency_ms: f64,
    jitter_ms: f64,
    loss_percent: f64,
    rate_mbit: Option<f64>,
) -> LinkSettings {
    LinkSettings {
        latency_ms,
        jitter_ms,
        loss_percent,
        rate_mbit,
    }
}

#[test]
fn a_pair_overrides_the_default_whichever_way_it_is_asked() {
    let a: Ipv4Addr = "192.168.1.11".parse().unwrap();
    let b: Ipv4Addr = "192.168.1.10".parse().unwrap();
    let mut shaping = Shaping {
        default: link(0.5, 0.1, 0.0, None),
        pairs: BTreeMap::new(),
    };
    assert_eq!(shaping.between(a, b), link(0.5, 0.1, 0.0, None));
    shaping
        .pairs
        .insert(Shaping::pair_key(a, b), link(200.0, 0.0, 5.0, Some(10.0)));
    assert_eq!(Shaping::pair_key(a, b), "192.168.1.10-192.168.1.11");
    assert_eq!(shaping.between(b, a), link(200.0, 0.0, 5.0, Some(10.0)));
    assert!(!shaping.is_plain());
    assert!(Shaping::default().is_plain());
}

#[test]
fn out_of_range_numbers_are_refused_naming_the_key() {
    let refused = |s: LinkSettings| s.check("network").unwrap_err().0;
    assert_eq!(refused(link(-1.0, 0.0, 0.0, None)), "network.latency_ms");
    assert_eq!(refused(link(1.0, -0.5, 0.0, None)), "network.jitter_ms");
    assert_eq!(refused(link(0.0, 0.5, 0.0, None)), "network.jitter_ms");
    assert_eq!(refused(link(0.0, 0.0, 100.5, None)), "network.loss_percent");
    assert_eq!(refused(link(0.0, 0.0, 0.0, Some(0.0))), "network.rate_mbit");
    assert_eq!(
        refused(link(f64::NAN, 0.0, 0.0, None)),
        "network.latency_ms"
    );
    assert!(link(0.5, 0.1, 100.0, Some(1.0)).check("network").is_ok());
}

#[test]
fn the_report_names_the_mechanism_of_each_setting() {
    let shaping = Shaping {
        default: link(0.5, 0.1, 2.0, Some(100.0)),
        pairs: BTreeMap::new(),
    };
    let links = links_in_force(&layout(), &shaping, false);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].between, ["192.168.1.10", "192.168.1.11"]);
    assert_eq!(links[0].latency_by, Some(Mechanism::Proxy));
    assert_eq!(links[0].loss_by, Some(Mechanism::Nftables));
    assert_eq!(links[0].rate_by, Some(Mechanism::Htb));
    let links = links_in_force(&layout(), &Shaping::default(), true);
    assert_eq!(links[0].latency_by, None);
    let links = links_in_force(&layout(), &shaping, true);
    assert_eq!(links[0].latency_by, Some(Mechanism::Netem));
}

#[test]
fn loss_and_the_proxy_redirect_are_rules_on_the_sender() {
    let layout = layout();
    let other = &layout.hosts[1];
    let chains = loss_chain(&[(1, other, link(0.0, 0.0, 5.0, None))]);
    assert_eq!(
        chains,
        ["chain loss { type filter hook output priority 0; oifname \"eth0\" ip daddr 192.168.1.11 numgen random mod 10000 < 500 drop; }"]
    );
    assert!(loss_chain(&[(1, other, link(1.0, 0.0, 0.0, None))]).is_empty());
    let redirect = redirect_chain(&[other], 41234);
    assert_eq!(
        redirect,
        "chain proxy { type nat hook output priority -100; meta mark 0x4f56 return; ip daddr { 192.168.1.11 } meta l4proto tcp redirect to :41234; }"
    );
}
