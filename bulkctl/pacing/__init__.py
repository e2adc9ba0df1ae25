"""Keeping within the API's quota: the pacer and its shared state file (``pacer``) and the
learner that fits a window to the quota answers it sees (``learner``)."""
