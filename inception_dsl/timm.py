"""`import inception_dsl.timm` registers every network of the specs in `specs/` with timm
as `incp_<network name>` (timm.create_model("incp_inception_v4", num_classes=10,
features_only=True)); `register_spec(path)` registers any spec file. The implementation
is inception_dsl/runtime/timm_registry.py; docs/interop.md."""

from inception_dsl.runtime.timm_registry import PREFIX, REGISTERED, register_spec, register_specs, specs_dir

__all__ = ["PREFIX", "REGISTERED", "register_spec", "register_specs", "specs_dir"]
