"""A StatefulSet's claims: made from its volumeClaimTemplates once, then grown in place.

The templates cannot change: pulumi-kubernetes replaces a StatefulSet whose
`.spec.volumeClaimTemplates` changed (provider/pkg/provider/diff.go, `statefulSet`), which
protected data refuses, and a recreated StatefulSet would keep the retained claims at their
old size anyway. So the controller ignores later changes to its templates, and each claim
it made is held to `size_gib` by a server-side-apply patch: a larger `storageGib` grows the
claim in place, on a StorageClass that allows expansion (kubernetes.storageClass).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope
from components.workload import PersistentVolume

core = k8s.core.v1
meta = k8s.meta.v1

# The patch takes the claim's size over from the StatefulSet controller, which set it when
# it made the claim (pulumi-kubernetes: provider/pkg/await/await.go, patchForce).
PATCH_FORCE = {"pulumi.com/patchForce": "true"}
TEMPLATES = "spec.volumeClaimTemplates"


def claim_name(volume: str, workload: str, replica: int) -> str:
    """The claim a StatefulSet makes for a replica from the template `volume`."""
    return f"{volume}-{workload}-{replica}"


def claim_template(scope: Scope, volume: PersistentVolume) -> core.PersistentVolumeClaimArgs:
    return core.PersistentVolumeClaimArgs(
        metadata=meta.ObjectMetaArgs(name=volume.name, labels=scope.labels),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=scope.settings.storage_class,
            resources=core.VolumeResourceRequirementsArgs(
                requests={"storage": f"{volume.size_gib}Gi"}
            ),
        ),
    )


def claim_sizes(scope: Scope, controller: pulumi.Resource, replicas: int) -> None:
    """Each claim the controller made, held at its volume's size (grown, never shrunk:
    the API server refuses a smaller request)."""
    w = scope.workload
    for volume in w.volumes:
        for replica in range(replicas):
            name = claim_name(volume.name, w.name, replica)
            core.PersistentVolumeClaimPatch(
                name,
                metadata=meta.ObjectMetaPatchArgs(
                    name=name, namespace=scope.namespace, annotations=PATCH_FORCE
                ),
                spec=core.PersistentVolumeClaimSpecPatchArgs(
                    resources=core.VolumeResourceRequirementsPatchArgs(
                        requests={"storage": f"{volume.size_gib}Gi"}
                    )
                ),
                opts=pulumi.ResourceOptions.merge(
                    scope.opts,
                    # The claim exists once the controller's first pod does; the patch
                    # leaves it as it is when the stack goes (the claim is retained or not
                    # by the controller's own policy).
                    pulumi.ResourceOptions(depends_on=[controller], retain_on_delete=True),
                ),
            )
