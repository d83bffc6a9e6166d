#include <gtest/gtest.h>
#include "lstm/lstm.hpp"
TEST(Smoke, Layout) { lstm::NetworkConfig c; c.input_size = 3; c.hidden_size = 4; EXPECT_EQ(lstm::Network<float>(c).num_parameters(), 16*3+16*4+32); }
