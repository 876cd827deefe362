//! A deploy's steps in the viewer's language: `Progress` (plain data from the deployer and the
//! control plane) as the portal's catalogue words it (`step-*` keys). The control plane keeps its
//! own English text for the CLI and logs; the portal shows this instead, on a project's page and
//! in the live view. What a step carries from outside (a failure's reason, a build log line,
//! names) stays as it is.

use super::i18n::{self, Lang};
use clubhost_core::control::progress::ProgressEvent;
use clubhost_core::model::{Progress, WaitFor};

/// One step for people, in `lang`.
pub fn step_text(lang: Lang, step: &Progress) -> String {
    let t = |key: &str, args: &[(&str, &str)]| i18n::t_with(lang, key, args);
    match step {
        Progress::Started { deployment, why } => t(
            "step-started",
            &[("deployment", &deployment.to_string()), ("why", why)],
        ),
        Progress::BuildQueued { service, position } => t(
            "step-build-queued",
            &[("service", service), ("position", &position.to_string())],
        ),
        Progress::Building { service, image } => {
            t("step-building", &[("service", service), ("image", image)])
        }
        Progress::BuildLog { service, line } => {
            t("step-build-log", &[("service", service), ("line", line)])
        }
        Progress::Built { service, image } => {
            t("step-built", &[("service", service), ("image", image)])
        }
        Progress::ImageReady { service, image } => t(
            "step-image-ready",
            &[("service", service), ("image", image)],
        ),
        Progress::Network { name, created } => t(
            if *created {
                "step-network-created"
            } else {
                "step-network-there"
            },
            &[("name", name)],
        ),
        Progress::Volume { name, created } => t(
            if *created {
                "step-volume-created"
            } else {
                "step-volume-there"
            },
            &[("name", name)],
        ),
        Progress::ContainerCreated { container, .. } => {
            t("step-container-created", &[("container", container)])
        }
        Progress::ContainerStarted { service } => {
            t("step-container-started", &[("service", service)])
        }
        Progress::Waiting {
            service,
            until,
            port,
        } => {
            let key = match until {
                WaitFor::Ready => "step-wait-ready",
                WaitFor::Healthy => "step-wait-healthy",
                WaitFor::Completed => "step-wait-completed",
                WaitFor::Listening => "step-wait-listening",
            };
            let port = port.unwrap_or_default().to_string();
            t(key, &[("service", service), ("port", &port)])
        }
        Progress::Answering { service, port } => t(
            "step-answering",
            &[("service", service), ("port", &port.to_string())],
        ),
        Progress::RoutePublished { route } => t("step-route", &[("route", route)]),
        Progress::Running => t("step-running", &[]),
        Progress::Failed {
            reason,
            still_serving,
        } => t(
            if *still_serving {
                "step-failed-serving"
            } else {
                "step-failed"
            },
            &[("reason", reason)],
        ),
    }
}

/// The event with its text in `lang` (what the live view and the JSON API send).
pub fn in_lang(lang: Lang, e: &ProgressEvent) -> ProgressEvent {
    let mut e = e.clone();
    e.text = step_text(lang, &e.step);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In English the portal says each step as the control plane does (one wording, two places).
    #[test]
    fn english_steps_read_as_the_control_planes() {
        let steps = [
            Progress::Started {
                deployment: 7,
                why: "redeploy".into(),
            },
            Progress::BuildQueued {
                service: "web".into(),
                position: 2,
            },
            Progress::Network {
                name: "clubhost-blog".into(),
                created: false,
            },
            Progress::Volume {
                name: "clubhost-blog-db".into(),
                created: true,
            },
            Progress::Waiting {
                service: "web".into(),
                until: WaitFor::Listening,
                port: Some(80),
            },
            Progress::Waiting {
                service: "db".into(),
                until: WaitFor::Healthy,
                port: None,
            },
            Progress::Answering {
                service: "web".into(),
                port: 80,
            },
            Progress::Running,
            Progress::Failed {
                reason: "boom".into(),
                still_serving: true,
            },
        ];
        for s in &steps {
            assert_eq!(step_text(Lang::En, s), s.to_string());
            let ko = step_text(Lang::Ko, s);
            assert_ne!(ko, s.to_string(), "not in Korean: {ko}");
        }
    }
}
