"""The LISTA family as plain PyTorch models (ISTA, FISTA, LISTA, LISTA-CP, LISTA-CPSS, ALISTA), no NNI."""
