"""The design space as NNI model spaces: neurons, layers, LISTA and D-LADMM backbones, HPO export."""
