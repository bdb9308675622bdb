"""A workload's HorizontalPodAutoscaler, on CPU and (unless the workload says not) memory: up
fast, down slowly."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope

hpa = k8s.autoscaling.v2


def utilization(resource: str, percent: int) -> hpa.MetricSpecArgs:
    return hpa.MetricSpecArgs(
        type="Resource",
        resource=hpa.ResourceMetricSourceArgs(
            name=resource,
            target=hpa.MetricTargetArgs(type="Utilization", average_utilization=percent),
        ),
    )


def autoscaler(scope: Scope) -> None:
    w = scope.workload
    s = w.scaling
    hpa.HorizontalPodAutoscaler(
        w.name,
        metadata=scope.metadata(),
        spec=hpa.HorizontalPodAutoscalerSpecArgs(
            scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
                api_version="apps/v1",
                kind="StatefulSet" if w.stateful else "Deployment",
                name=w.name,
            ),
            min_replicas=s.min_replicas,
            max_replicas=s.max_replicas,
            metrics=[
                utilization("cpu", s.target_cpu_percent),
                *(
                    [utilization("memory", s.target_memory_percent)]
                    if s.target_memory_percent is not None
                    else []
                ),
            ],
            behavior=hpa.HorizontalPodAutoscalerBehaviorArgs(
                # Flapping costs more than idle replicas.
                scale_up=hpa.HPAScalingRulesArgs(
                    stabilization_window_seconds=0,
                    select_policy="Max",
                    policies=[
                        hpa.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=60),
                        hpa.HPAScalingPolicyArgs(type="Pods", value=4, period_seconds=60),
                    ],
                ),
                scale_down=hpa.HPAScalingRulesArgs(
                    stabilization_window_seconds=s.scale_down_window_seconds,
                    select_policy="Min",
                    policies=[
                        hpa.HPAScalingPolicyArgs(type="Percent", value=50, period_seconds=60),
                        hpa.HPAScalingPolicyArgs(type="Pods", value=2, period_seconds=60),
                    ],
                ),
            ),
        ),
        opts=scope.opts,
    )
