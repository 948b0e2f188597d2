"""Personal menus: a repeat caller's own services as shortcuts before the canonical main menu.

Import from the modules (`ivr_engine.personal.menus`): the statistics store imports `history` from
here, and should not pay for the optimizer and the runtime.
"""
