"""Face detection and expression classification: a Django-free core plus its Django parts."""
