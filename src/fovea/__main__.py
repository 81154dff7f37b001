from fovea.cli import app

app(prog_name="fovea")
