//! A small builder over a `prometheus-client` registry: gauges and counters, plain or with
//! labels, registered from values read at scrape time.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label pairs of one series. Label values come from the config (teams, peers) or fixed
/// lists (states, reasons), never from requests.
pub(super) type Labels = Vec<(&'static str, String)>;

type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// Registers metrics whose values are known now.
pub(super) struct Families<'r> {
    registry: &'r mut Registry,
}

impl<'r> Families<'r> {
    /// Builds into `registry`.
    pub(super) fn new(registry: &'r mut Registry) -> Self {
        Self { registry }
    }

    /// A gauge without labels.
    pub(super) fn gauge(&mut self, name: &str, help: &str, value: f64) {
        let gauge = FloatGauge::default();
        gauge.set(value);
        self.registry.register(name, help, gauge);
    }

    /// A gauge with one series per label set.
    pub(super) fn gauges(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        let family = Family::<Labels, FloatGauge>::default();
        for (labels, value) in series {
            family.get_or_create(&labels).set(value);
        }
        self.registry.register(name, help, family);
    }

    /// A counter without labels (`_total` is added to the name).
    pub(super) fn counter(&mut self, name: &str, help: &str, value: f64) {
        let counter = FloatCounter::default();
        counter.inc_by(value.max(0.0));
        self.registry.register(name, help, counter);
    }

    /// A counter with one series per label set (`_total` is added to the name).
    pub(super) fn counters(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        let family = Family::<Labels, FloatCounter>::default();
        for (labels, value) in series {
            family.get_or_create(&labels).inc_by(value.max(0.0));
        }
        self.registry.register(name, help, family);
    }
}
