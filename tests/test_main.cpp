#define BOOST_TEST_MODULE sourcery
#include <boost/test/unit_test.hpp>
