"""Visual inspection: expected patterns of parts, matched one-to-one against a detector's boxes,
judged OK or NOK, from uploads or a camera. Modules import nothing here on purpose: the client
reads `patterns` without pulling in the serving layer or scipy.
"""
