class DomainError(Exception):
    """A refusal a user can understand; `code` selects the translated message in the handlers."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
