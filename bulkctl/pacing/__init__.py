"""Keeping within the API's quota: the windows (``rates``), the record shared by the user's
processes (``store``), the pacer that every request passes (``pacer``), and the learner that
fits a window to the quota answers it sees (``learner``)."""
