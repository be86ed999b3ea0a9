//! The figures of a small synthetic run, and of an empty one.

use super::*;

/// A made-up run: three nodes sampled every second for a minute, a few hundred copies (local ones
/// in milliseconds, cross-node ones in tens to thousands), and one fault.
struct Run {
    deliveries: Vec<DeliveryPoint>,
    samples: Vec<NodeSample>,
    faults: Vec<FaultWindow>,
    expected: Vec<(f64, u64)>,
}

impl Run {
    fn new(nodes: usize) -> Self {
        let deliveries: Vec<DeliveryPoint> = (0..400)
            .map(|i| {
                let cross_node = i % 3 != 0;
                let sent_s = i as f64 * 0.14;
                let latency_ms = if cross_node {
                    20.0 + (i * 37 % 2000) as f64
                } else {
                    0.5 + (i % 7) as f64
                };
                DeliveryPoint {
                    sent_s,
                    delivered_s: sent_s + latency_ms / 1000.0,
                    latency_ms,
                    cross_node,
                    bytes: 100 + i % 50,
                }
            })
            .collect();
        let samples = (0..=60)
            .flat_map(|t| {
                (0..nodes).map(move |node| NodeSample {
                    t_s: t as f64,
                    node: format!("node-{node}"),
                    up: !(node == 2 && (20..30).contains(&t)),
                    outbox_depth: if (20..30).contains(&t) {
                        (t - 18) as u64 * 3
                    } else {
                        node as u64
                    },
                    acknowledged: t as u64 * 2,
                    delivered: t as u64 * 2 + (t as u64 % 3),
                    bytes_sent: t as u64 * 1500 + node as u64 * 10,
                    connections: node as u64 + 1,
                })
            })
            .collect();
        let faults = vec![FaultWindow {
            start_s: 20.0,
            end_s: 30.0,
            label: "crash node-2".to_owned(),
        }];
        let expected = (0..=60).map(|t| (t as f64, (t * 7) as u64)).collect();
        Self {
            deliveries,
            samples,
            faults,
            expected,
        }
    }

    fn figures(&self) -> Figures<'_> {
        Figures {
            deliveries: &self.deliveries,
            samples: &self.samples,
            faults: &self.faults,
            expected_by_time: &self.expected,
            duration_s: 60.0,
        }
    }
}

const PLOTS: [(&str, &str); 4] = [
    ("latency_cdf.svg", "Send-to-delivery latency"),
    ("delivery_ratio.svg", "Cumulative delivery ratio"),
    ("outbox_depth.svg", "Outbox depth"),
    ("bytes_per_message.svg", "Bytes on the wire per delivered copy"),
];

fn check_plots(dir: &Path, plots: &[(String, String)]) -> Vec<String> {
    let names: Vec<&str> = plots.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, PLOTS.map(|(name, _)| name));
    PLOTS
        .iter()
        .map(|(name, title)| {
            let svg = std::fs::read_to_string(dir.join(name)).expect("plot written");
            assert!(svg.starts_with("<svg"), "{name}: {}", &svg[..svg.len().min(80)]);
            assert!(svg.trim_end().ends_with("</svg>"), "{name} is cut short");
            assert!(svg.contains(&format!(">\n{title}\n</text>")), "{name} lacks its title");
            svg
        })
        .collect()
}

#[test]
fn a_small_run_gets_every_plot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = Run::new(3);
    let plots = write_plots(dir.path(), &run.figures()).expect("plots written");
    let svgs = check_plots(dir.path(), &plots);
    assert!(plots.iter().all(|(_, caption)| !caption.is_empty()));
    // The legend of the latency plot, the fault's label, one line per node.
    assert!(svgs[0].contains("cross-node (n = 266)") && svgs[0].contains("local (n = 134)"));
    assert!(svgs[1].contains("crash node-2") && svgs[2].contains("crash node-2"));
    assert!(
        ["node-0", "node-1", "node-2"]
            .iter()
            .all(|node| svgs[2].contains(*node))
    );
    assert!(
        plots[0].1.contains("logarithmic"),
        "latencies from 0.5 to 2000 ms span 3 decades"
    );
}

#[test]
fn many_nodes_are_summarised() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = Run::new(20);
    let plots = write_plots(dir.path(), &run.figures()).expect("plots written");
    let svgs = check_plots(dir.path(), &plots);
    assert!(svgs[2].contains("sum (right)") && svgs[2].contains("median (left)"));
    assert!(!svgs[2].contains("node-13"));
    assert!(plots[2].1.contains("20 nodes"));
}

#[test]
fn empty_inputs_draw_empty_charts() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let empty = Figures {
        deliveries: &[],
        samples: &[],
        faults: &[],
        expected_by_time: &[],
        duration_s: 0.0,
    };
    let plots = write_plots(dir.path(), &empty).expect("plots written");
    let svgs = check_plots(dir.path(), &plots);
    assert!(svgs[0].contains("no copies were delivered"));
    // Degenerate values: NaN times, a fault that never ends, an instantaneous one, zero latencies.
    let deliveries = [DeliveryPoint {
        delivered_s: f64::NAN,
        ..DeliveryPoint::default()
    }];
    let samples = [NodeSample {
        t_s: f64::NAN,
        node: "a".to_owned(),
        ..NodeSample::default()
    }];
    let faults = [
        FaultWindow {
            start_s: 1.0,
            end_s: f64::INFINITY,
            label: "partition".to_owned(),
        },
        FaultWindow {
            start_s: 2.0,
            end_s: 2.0,
            label: "forge".to_owned(),
        },
        FaultWindow {
            start_s: f64::NAN,
            end_s: 3.0,
            label: "odd".to_owned(),
        },
    ];
    let odd = Figures {
        deliveries: &deliveries,
        samples: &samples,
        faults: &faults,
        expected_by_time: &[(0.5, 0)],
        duration_s: 5.0,
    };
    let plots = write_plots(dir.path(), &odd).expect("plots written");
    check_plots(dir.path(), &plots);
}

#[test]
fn the_timeseries_has_a_row_per_sample() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = Run::new(3);
    let path = dir.path().join("timeseries.csv");
    write_timeseries(&path, &run.samples).expect("timeseries written");
    let csv = std::fs::read_to_string(&path).expect("timeseries read");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "t_s,node,up,outbox_depth,acknowledged,delivered,bytes_sent,connections"
    );
    assert_eq!(lines.len(), 1 + run.samples.len());
    assert_eq!(lines[1], "0.000,node-0,true,0,0,0,0,1");
    assert!(lines.contains(&"25.000,node-2,false,21,50,51,37520,3"));
    assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
}
