"""What the hidden checks see of a submission: its names, and only those it wrote itself.

Imported by the checks' process, so it imports nothing heavy (no nbformat) at module level.
"""


class NotYourCode(BaseException):
    """A check asked for a name the submission did not write itself.

    A BaseException, so that a check's ``pytest.raises(Exception)`` cannot mistake it for the
    error the task's code was supposed to raise."""


class StudentCode:
    """The names a submission defined. Asking for one it did not define, or one it imported from
    the library instead of writing, fails the check with a message the student can act on."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        if name.startswith("_"):  # tools such as hypothesis probe for private attributes
            raise AttributeError(name)
        namespace = self._module.__dict__
        if name not in namespace:
            raise NotYourCode(
                f"your notebook does not define `{name}`: run the cell that defines it and keep the name the task gives"
            )
        value = namespace[name]
        origin = getattr(value, "__module__", None)
        if isinstance(value, type) or callable(value) and hasattr(value, "__code__"):
            if origin != self._module.__name__:
                raise NotYourCode(
                    f"`{name}` comes from `{origin}`, not from your notebook: this task is graded on code you write"
                )
        return value


def load_solution(notebook: str):
    """Execute the solution notebook ``source/mlops/<notebook>.ipynb`` as the ``student`` module."""
    import nbformat

    from autograder.grading import program_cells
    from autograder.notebooks import SOURCE
    from autograder.runner import execute_program

    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    module, errors = execute_program(program_cells(nb), cell_timeout=120)
    if errors:
        raise RuntimeError(f"the solution notebook {notebook} failed: {errors}")
    return module

