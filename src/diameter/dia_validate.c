#include "dia.h"
