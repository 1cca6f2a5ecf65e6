// weft: declarations only (see ../algorithm.h).
#pragma once
#include <stdexcept>
