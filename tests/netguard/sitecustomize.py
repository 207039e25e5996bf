"""Put this folder on PYTHONPATH and every Python process refuses network use beyond this machine (see
labkit_netguard)."""

import labkit_netguard

labkit_netguard.install()
