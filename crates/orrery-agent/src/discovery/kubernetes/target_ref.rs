//! What `endpoints` and `endpointslice` share about an address's target reference: its
//! `address_target_kind`/`_name` labels, the pod it points at, and [`SeenPods`], which
//! adds the pod's labels to the address's targets and makes targets of the pod's other
//! container ports. Pure: lookups go through [`Related`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, ObjectReference, Pod};

use super::pod::{
    containers, pod_ip, pod_labels, CONTAINER_IMAGE, CONTAINER_INIT, CONTAINER_NAME,
    CONTAINER_PORT_NAME, CONTAINER_PORT_NUMBER, CONTAINER_PORT_PROTOCOL,
};
use super::{join_host_port, set, Related, ADDRESS_LABEL};
use crate::discovery::LabelSet;

/// The `{prefix}address_target_kind` and `_name` labels of an endpoint's target
/// reference (empty values for absent fields, as in Prometheus).
pub(crate) fn set_target_ref(t: &mut LabelSet, prefix: &str, r: &ObjectReference) {
    set(
        t,
        &format!("{prefix}address_target_kind"),
        r.kind.clone().unwrap_or_default(),
    );
    set(
        t,
        &format!("{prefix}address_target_name"),
        r.name.clone().unwrap_or_default(),
    );
}

/// The container labels of container `c`'s port `cport`; `protocol` overrides the
/// port's own protocol when `Some`.
fn set_container_port(
    t: &mut LabelSet,
    c: &Container,
    cport: &ContainerPort,
    protocol: Option<&str>,
    is_init: bool,
) {
    set(t, CONTAINER_NAME, c.name.as_str());
    set(t, CONTAINER_IMAGE, c.image.clone().unwrap_or_default());
    set(
        t,
        CONTAINER_PORT_NAME,
        cport.name.clone().unwrap_or_default(),
    );
    set(t, CONTAINER_PORT_NUMBER, cport.container_port.to_string());
    let proto = protocol.or(cport.protocol.as_deref()).unwrap_or_default();
    set(t, CONTAINER_PORT_PROTOCOL, proto);
    set(t, CONTAINER_INIT, is_init.to_string());
}

/// The pod an endpoint address points at, if it is a pod we know.
pub(crate) fn resolve_pod<'a>(
    target_ref: Option<&ObjectReference>,
    namespace: &str,
    related: &Related<'a>,
) -> Option<&'a Pod> {
    let r = target_ref?;
    if r.kind.as_deref() != Some("Pod") {
        return None;
    }
    let ns = r.namespace.as_deref().unwrap_or(namespace);
    related.pods.get(ns, r.name.as_deref()?)
}

/// Pods behind endpoint addresses and the ports already targeted on each, so that their
/// remaining container ports become targets too.
#[derive(Default)]
pub(crate) struct SeenPods<'a> {
    pods: BTreeMap<(&'a str, &'a str), (&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    /// Adds `pod`'s labels to the endpoint target `t`, plus the container labels of the
    /// container port equal to `port` (the last such container wins, as in Prometheus).
    /// `protocol` overrides the container port's protocol label when `Some`.
    pub(crate) fn enrich(
        &mut self,
        t: &mut LabelSet,
        pod: &'a Pod,
        port: Option<i32>,
        protocol: Option<&str>,
    ) {
        let key = (
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        );
        let entry = self.pods.entry(key).or_insert_with(|| (pod, Vec::new()));
        t.extend(pod_labels(pod));
        let Some(port) = port else {
            return;
        };
        entry.1.push(port);
        for (c, is_init) in containers(pod) {
            if let Some(cport) = c
                .ports
                .iter()
                .flatten()
                .find(|cp| cp.container_port == port)
            {
                set_container_port(t, c, cport, protocol, is_init);
            }
        }
    }

    /// One target per container port of the seen pods that no endpoint port covered.
    pub(crate) fn uncovered_targets(&self) -> Vec<LabelSet> {
        let mut out = Vec::new();
        for (pod, covered) in self.pods.values() {
            let Some(ip) = pod_ip(pod) else {
                continue;
            };
            for (c, is_init) in containers(pod) {
                for cport in c.ports.iter().flatten() {
                    if covered.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = LabelSet::new();
                    set(
                        &mut t,
                        ADDRESS_LABEL,
                        join_host_port(ip, cport.container_port),
                    );
                    set_container_port(&mut t, c, cport, None, is_init);
                    t.extend(pod_labels(pod));
                    out.push(t);
                }
            }
        }
        out
    }
}
