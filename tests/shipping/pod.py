"""Shipping test kit: what the gateway container of the rendered Deployment would see — its
environment with every ``secretKeyRef`` resolved, its Secret, ConfigMap and emptyDir volumes
as local folders — so that a real gateway process runs with exactly what the chart renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.shipping.kit import FULLNAME, Manifest, find, gateway_container


@dataclass
class Namespace:
    """The objects an operator keeps beside the release (``existingSecret``,
    ``existingConfigMap``); the chart's own Secrets and ConfigMaps are added from the render."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_rendered(self, docs: list[Manifest]) -> None:
        for doc in docs:
            name = doc["metadata"]["name"]
            if doc["kind"] == "Secret":
                self.secrets[name] = dict(doc.get("stringData", {}))
            elif doc["kind"] == "ConfigMap":
                self.config_maps[name] = dict(doc.get("data", {}))


@dataclass(frozen=True)
class Pod:
    """The container's resolved environment and its arguments after ``serve --host --port``."""

    env: dict[str, str]
    serve_args: list[str]


def _write(source: dict[str, Any], data: dict[str, str], folder: Path) -> None:
    """A volume's keys as files, as kubelet projects them (``items`` picks and renames)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = source.get("items") or [{"key": k, "path": k} for k in data]
    for item in items:
        (folder / item["path"]).write_text(data[item["key"]])  # KeyError: the pod won't start


def _volumes(docs: list[Manifest], ns: Namespace, root: Path) -> dict[str, Path]:
    """mountPath -> the local folder standing in for it."""
    container = gateway_container(docs)
    deployment = find(docs, "Deployment", FULLNAME)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        folder = root / mount["name"]
        if "secret" in volume:
            _write(volume["secret"], ns.secrets[volume["secret"]["secretName"]], folder)
        elif "configMap" in volume:
            _write(volume["configMap"], ns.config_maps[volume["configMap"]["name"]], folder)
        else:
            assert "emptyDir" in volume, volume
            folder.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = folder
    return mounts


def _local(value: str, mounts: dict[str, Path]) -> str:
    for path, folder in mounts.items():
        if value == path or value.startswith(path + "/"):
            return str(folder) + value[len(path) :]
    return value


def pod_of(docs: list[Manifest], ns: Namespace, root: Path) -> Pod:
    """The gateway container as kubelet would start it (a missing Secret key fails, as it
    would keep the pod from starting)."""
    ns.add_rendered(docs)
    container = gateway_container(docs)
    mounts = _volumes(docs, ns, root)
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = _local(str(entry["value"]), mounts)
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        secret = ns.secrets.get(ref["name"], {})
        if ref["key"] in secret:
            env[entry["name"]] = secret[ref["key"]]
        elif not ref.get("optional"):
            raise KeyError(f"{entry['name']}: Secret {ref['name']} has no key {ref['key']}")
    args = list(container["args"])
    assert args[:5] == ["serve", "--host", "0.0.0.0", "--port", "8080"], args
    return Pod(env, args[5:])
