"""HTML views of the risk workflow, one module per page group. Views are thin:
they parse input, call ``risks.services`` or ``risks.selectors``, and render."""
