"""Menu optimizer: cost model, lower bound and the system-generated global tree."""

from __future__ import annotations

from ivr_engine.optimizer.bound import (
    BoundError,
    conditional_entropy,
    conditional_lower_bound,
    entropy,
    lower_bound,
    position_costs,
    services_bound,
    solve_lambda,
)
from ivr_engine.optimizer.cost import (
    CostParams,
    TreeMetrics,
    evaluate,
    leaf_times,
    normalize,
)
from ivr_engine.optimizer.global_tree import (
    InfeasibleError,
    OptimizationResult,
    optimize,
    problem_bound,
)
from ivr_engine.optimizer.tree import (
    DIGIT_KEYS,
    Constraints,
    MenuTree,
    Node,
    Option,
    Path,
    Service,
    TreeError,
    check_tree,
    leaf_paths,
    violations,
    walk,
)

__all__ = [
    "DIGIT_KEYS",
    "BoundError",
    "Constraints",
    "CostParams",
    "InfeasibleError",
    "MenuTree",
    "Node",
    "OptimizationResult",
    "Option",
    "Path",
    "Service",
    "TreeError",
    "TreeMetrics",
    "check_tree",
    "conditional_entropy",
    "conditional_lower_bound",
    "entropy",
    "evaluate",
    "leaf_paths",
    "leaf_times",
    "lower_bound",
    "normalize",
    "optimize",
    "position_costs",
    "problem_bound",
    "services_bound",
    "solve_lambda",
    "violations",
    "walk",
]
