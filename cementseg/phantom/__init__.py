"""Synthetic post-vertebroplasty CT with voxel-exact truth (issue 3).

``generate(scenario, seed)`` makes a `PhantomCase`: a `CTVolume`, a truth label volume
(cement location codes and confounder material codes), TotalSegmentator-style anatomy
labels and a JSON-ready manifest; ``insert(volume, labels, plan)`` puts the same cement
into a real CT guided by its TotalSegmentator labels. See docs/phantom.md.
"""

_LAZY = {"PhantomCase": "case", "generate": "case", "insert": "insertion", "SCENARIOS": "scenarios"}


def __getattr__(name: str):
    # The renderer pulls in scipy.fft: import it when first used, so that the CLI
    # (which lists the scenario names) and `cementseg scan` start quickly.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'cementseg.phantom' has no attribute {name!r}")


__all__ = ["SCENARIOS", "PhantomCase", "generate", "insert"]
