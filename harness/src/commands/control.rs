//! `harness control`: one node's control service from the command line.

use overlay::fault::FaultAction;
use overlay::proto::Fault;

use crate::cli::{ControlAction, ControlArgs};
use crate::control::ControlClient;

/// Runs the command.
pub async fn run(args: ControlArgs) -> anyhow::Result<()> {
    let mut control = ControlClient::new("the node", &args.node, &args.token)?;
    let fault = |kind: FaultAction, peer: &str, duration_s: f64| Fault {
        kind: kind.name().to_string(),
        peer: peer.to_string(),
        duration_ms: (duration_s * 1000.0).round() as i64,
        ..Default::default()
    };
    match args.action {
        ControlAction::Delay {
            ms,
            stall,
            peer,
            duration_s,
        } => {
            let (kind, what) = if stall {
                (FaultAction::Stall, "work stalled")
            } else {
                (FaultAction::Delay, "answers delayed")
            };
            let id = control
                .inject(Fault {
                    delay_ms: ms,
                    ..fault(kind, &peer, duration_s)
                })
                .await?;
            println!("fault {id}: {what} by {ms} ms");
        }
        ControlAction::Drop {
            peer,
            probability,
            duration_s,
        } => {
            let id = control
                .inject(Fault {
                    probability,
                    ..fault(FaultAction::Drop, &peer, duration_s)
                })
                .await?;
            println!("fault {id}: answers dropped with probability {probability}");
        }
        ControlAction::Partition { peer, duration_s } => {
            let id = control
                .inject(fault(FaultAction::Partition, &peer, duration_s))
                .await?;
            println!("fault {id}: {peer} refused both ways");
        }
        ControlAction::Clear { id } => {
            let cleared = control.clear(id.as_deref()).await?;
            println!("{cleared} fault(s) cleared");
        }
        ControlAction::List => {
            let faults = control.list().await?;
            if faults.is_empty() {
                println!("no faults");
            }
            for f in faults {
                println!("{}", fault_line(&f));
            }
        }
        ControlAction::Strategy { name } => {
            let previous = control.set_strategy(&name).await?;
            println!("strategy {previous} -> {name}");
        }
        ControlAction::Shutdown => {
            control.shutdown(true).await?;
            println!("{} is shutting down", args.node);
        }
    }
    Ok(())
}

/// One active fault, as `control list` prints it.
fn fault_line(f: &Fault) -> String {
    let peer = if f.peer.is_empty() {
        "everyone"
    } else {
        &f.peer
    };
    format!(
        "{}  {:<9} peer {:<8} delay {} ms  probability {}  {}",
        f.id,
        f.kind,
        peer,
        f.delay_ms,
        f.probability,
        if f.remaining_s > 0.0 {
            format!("ends in {:.1} s", f.remaining_s)
        } else {
            "until cleared".to_string()
        }
    )
}
