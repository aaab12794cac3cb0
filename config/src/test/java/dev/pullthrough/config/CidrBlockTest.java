package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class CidrBlockTest {
    @Test
    void contains_ipv4Range() throws Exception {
        CidrBlock block = CidrBlock.parse("k", "10.1.0.0/16");
        assertTrue(block.contains(InetAddress.getByName("10.1.200.3")));
        assertFalse(block.contains(InetAddress.getByName("10.2.0.1")));
        assertFalse(block.contains(InetAddress.getByName("::1")));
    }

    @Test
    void contains_oddPrefixAndMappedIpv6() throws Exception {
        CidrBlock block = CidrBlock.parse("k", "192.168.1.128/25");
        assertTrue(block.contains(InetAddress.getByName("::ffff:192.168.1.200")));
        assertFalse(block.contains(InetAddress.getByName("192.168.1.127")));
    }

    @Test
    void parse_hostnameOrBadPrefix_namesKey() {
        ConfigException e = assertThrows(ConfigException.class, () -> CidrBlock.parse("auth.allowCidrs[1]", "example.com/8"));
        assertEquals("auth.allowCidrs[1]", e.key());
        assertThrows(ConfigException.class, () -> CidrBlock.parse("k", "10.0.0.0/33"));
    }
}
