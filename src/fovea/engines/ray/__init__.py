"""Fovea on Ray: `deployments` (one Serve deployment per model behind the FastAPI ingress),
`service` (the `Service` the ingress's routes call, whose images run in those deployments),
`run` (`fovea serve --engine ray`), `app` (the application `serve build`/`serve deploy` import)
and `data` (`fovea jobs run --engine ray` on Ray Data). Needs the `ray` extra."""
