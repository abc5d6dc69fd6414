"""The one exception type for mistakes a user can fix."""


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix in one line."""
