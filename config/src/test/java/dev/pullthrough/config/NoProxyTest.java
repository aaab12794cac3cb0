package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code NO_PROXY} as Go's httpproxy and curl read it (issue 27). */
class NoProxyTest {

    @Test
    void matches_hostName_itselfAndSubdomainsOnly() {
        NoProxy noProxy = NoProxy.parse("example.com");
        assertTrue(noProxy.matches("example.com", 443));
        assertTrue(noProxy.matches("registry.example.com", 443));
        assertFalse(noProxy.matches("notexample.com", 443), "a suffix of the name is not a subdomain");
        assertFalse(noProxy.matches("example.com.evil.org", 443));
    }

    @Test
    void matches_leadingDot_subdomainsNotTheDomain() {
        NoProxy noProxy = NoProxy.parse(".internal.corp");
        assertTrue(noProxy.matches("registry.internal.corp", 443));
        assertFalse(noProxy.matches("internal.corp", 443));
        assertTrue(NoProxy.parse("*.internal.corp").matches("a.internal.corp", 443), "*.domain reads as .domain");
    }

    @Test
    void matches_ipAddressAndCidr() {
        NoProxy noProxy = NoProxy.parse("192.168.1.5, 10.0.0.0/8, fd00::/8, ::1");
        assertTrue(noProxy.matches("192.168.1.5", 80));
        assertFalse(noProxy.matches("192.168.1.6", 80));
        assertTrue(noProxy.matches("10.20.30.40", 5000));
        assertFalse(noProxy.matches("11.0.0.1", 5000));
        assertTrue(noProxy.matches("[fd00::17]", 443), "an IPv6 target as URLs spell it");
        assertTrue(noProxy.matches("0:0:0:0:0:0:0:1", 443), "one address, any spelling");
        assertFalse(noProxy.matches("registry.10.0.0.0", 443));
    }

    @Test
    void matches_withPort_thatPortOnly() {
        NoProxy noProxy = NoProxy.parse("registry.corp:5000,127.0.0.1:8443,[::1]:9000");
        assertTrue(noProxy.matches("registry.corp", 5000));
        assertFalse(noProxy.matches("registry.corp", 443));
        assertTrue(noProxy.matches("127.0.0.1", 8443));
        assertFalse(noProxy.matches("127.0.0.1", 8444));
        assertTrue(noProxy.matches("::1", 9000));
        assertFalse(noProxy.matches("::1", 9001));
    }

    @Test
    void matches_star_everything() {
        assertTrue(NoProxy.parse("*").matches("anything.example", 1));
        assertTrue(NoProxy.parse("foo, *").matches("10.1.1.1", 443));
    }

    @Test
    void matches_caseAndSpaces_ignored() {
        NoProxy noProxy = NoProxy.parse("  Registry.CORP ,, .Mirror.Example ");
        assertTrue(noProxy.matches("registry.corp", 443));
        assertTrue(noProxy.matches("REGISTRY.corp", 443));
        assertTrue(noProxy.matches("eu.mirror.example", 443));
    }

    @Test
    void matches_emptyOrNonsense_nothing() {
        assertFalse(NoProxy.parse("").matches("example.com", 443));
        assertTrue(NoProxy.parse(" , ").isEmpty());
        assertFalse(NoProxy.parse("10.0.0.0/99,not/a/cidr").matches("10.0.0.1", 443), "bad entries are ignored");
        assertFalse(NoProxy.parse("localhost").matches("127.0.0.1", 443), "loopback is not exempt by itself");
    }
}
