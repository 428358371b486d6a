"""Each asset's link to its source (the asset page's "Source code"), pointing at its body.

`dg.with_source_code_references` takes the file of the op's function as it is, but the line
of the function it wraps: an asset body under `@explained_failures` (lib/failures.py)
linked to "failures.py" at the line of the body in its own module. The link of such an
asset is pointed at the wrapped body itself. Local paths only: the repository has no remote.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import dagster as dg

Definition = TypeVar("Definition")


def with_links_to_bodies(assets: Sequence[Any]) -> list[Any]:
    return [_link_to_body(asset) for asset in dg.with_source_code_references(list(assets))]


def _link_to_body(asset: Definition) -> Definition:
    if not isinstance(asset, dg.AssetsDefinition) or not isinstance(asset.node_def, dg.OpDefinition):
        return asset
    # Dagster keeps an @asset's function as `decorated_fn` of its compute function.
    function = cast(Callable, getattr(asset.node_def.compute_fn, "decorated_fn", asset.node_def.compute_fn))
    body = inspect.unwrap(function)
    if body is function:
        return asset
    wrapper_file = os.path.abspath(inspect.getsourcefile(function) or "")
    body_reference = dg.LocalFileCodeReference(
        file_path=os.path.abspath(inspect.getsourcefile(body) or ""), line_number=inspect.getsourcelines(body)[1]
    )

    def relink(spec: dg.AssetSpec) -> dg.AssetSpec:
        current = spec.metadata.get("dagster/code_references")
        references = [
            body_reference if isinstance(r, dg.LocalFileCodeReference) and r.file_path == wrapper_file else r
            for r in (current.code_references if isinstance(current, dg.CodeReferencesMetadataValue) else [])
        ]
        return spec.replace_attributes(
            metadata={
                **spec.metadata,
                "dagster/code_references": dg.CodeReferencesMetadataValue(code_references=references),
            }
        )

    return asset.map_asset_specs(relink)  # type: ignore[return-value]
